// Where a command computes: `device: auto | cpu | cuda | cuda:N` in a config, `--device` on a command line.
// One process computes on one device: the command resolves the setting once (UseDevice) and every model, batch,
// label, mask, generator and optimizer state of the run goes there (ComputeDevice). A CUDA build run on a machine
// without a GPU computes on the CPU under `auto`; asking for `cuda` there is an error, never a silent fallback.
// Mixed precision: `train.precision` / `--precision` (fp32 | bf16 | fp16) is autocast over the forward pass, the
// weights staying float32 (Autocast below); fp16 needs loss scaling (fas/engine/grad_scaler.h).
#pragma once

#include <torch/torch.h>

#include <string>

namespace fas {

// Parses and checks a device setting against this build and machine; throws ConfigError with one line naming
// `what` (the key or option) and what to do: an unknown spelling, `cuda` with a CPU-only LibTorch, `cuda` with no
// GPU visible, `cuda:N` past the last GPU. `local_rank` >= 0 (a data-parallel worker) turns `auto` / `cuda` into
// cuda:LOCAL_RANK, one GPU a process.
torch::Device ResolveDevice(const std::string& spec, const std::string& what = "device", int local_rank = -1);
// The spelling alone (a config is valid on a machine without the GPU it names): throws ConfigError naming `what`.
void ValidateDeviceSpec(const std::string& spec, const std::string& what);

// Resolves `spec` (as ResolveDevice), makes it this process's compute device, and on a GPU sets it current and
// turns TF32 matmuls and convolutions on (`tf32` false keeps them exact float32). Returns the device. Logs one line
// naming a GPU.
torch::Device UseDevice(const std::string& spec, const std::string& what = "device", int local_rank = -1,
                        bool tf32 = true);

// The device UseDevice chose (the CPU until a command chose one).
torch::Device ComputeDevice();

// "cpu" or "cuda:0 (NVIDIA H200, 139.8 GiB)": for logs and run.json.
std::string DescribeDevice(const torch::Device& device);

// Whether this LibTorch was built with CUDA, and how many GPUs it sees (0 when none or CPU-only).
bool CudaBuild();
int VisibleGpus();

// Blocks until the device has finished its queued work (timings); a no-op on the CPU.
void SynchronizeDevice(const torch::Device& device);

// A tensor on `device`: a CPU tensor bound for a GPU is copied through pinned memory without blocking the host
// (the copy is ordered on the current stream, before any kernel that reads it). Undefined stays undefined.
torch::Tensor ToDevice(const torch::Tensor& t, const torch::Device& device);

enum class Precision { kFloat32, kBFloat16, kFloat16 };

// "fp32" | "bf16" | "fp16"; throws ConfigError naming `what` otherwise.
Precision ParsePrecision(const std::string& spec, const std::string& what);
std::string PrecisionName(Precision p);
// The dtype a precision computes in (float32 for fp32).
torch::ScalarType PrecisionDtype(Precision p);
// A setting that may also be "auto": bf16 on a GPU (its tensor cores; features within bf16's rounding), fp32 on
// the CPU (where bf16 is slower without AMX and the float32 kernels are the tuned ones).
Precision ResolvePrecision(const std::string& spec, const torch::Device& device, const std::string& what);

// Autocast over a scope: LibTorch runs matmuls, convolutions and attention in `precision` on `device`'s type,
// and reductions, norms and losses in float32, on float32 weights. Nothing under fp32. Not nestable with another
// precision (the inner scope would restore the outer's dtype wrongly): one scope a forward pass.
class Autocast {
 public:
  Autocast(const torch::Device& device, Precision precision);
  ~Autocast();
  Autocast(const Autocast&) = delete;
  Autocast& operator=(const Autocast&) = delete;

 private:
  c10::DeviceType type_;
  bool active_ = false;
  bool was_enabled_ = false;
  torch::ScalarType was_dtype_ = torch::kFloat32;
};

}  // namespace fas

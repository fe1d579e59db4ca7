#include "fas/core/device.h"

#include <ATen/autocast_mode.h>
#include <spdlog/spdlog.h>

#include <regex>

#include "fas/core/error.h"
#include "fas/core/gpu_info.h"

namespace fas {
namespace {

torch::Device g_device(torch::kCPU);

}  // namespace

bool CudaBuild() {
#ifdef FAS_CUDA
  return true;
#else
  return false;
#endif
}

int VisibleGpus() { return torch::cuda::is_available() ? static_cast<int>(torch::cuda::device_count()) : 0; }

void ValidateDeviceSpec(const std::string& spec, const std::string& what) {
  static const std::regex kForm("auto|cpu|cuda(:[0-9]{1,4})?");
  if (!std::regex_match(spec, kForm)) {
    throw ConfigError(what + ": '" + spec + "' is not a device (auto | cpu | cuda | cuda:N)");
  }
}

torch::Device ResolveDevice(const std::string& spec, const std::string& what, int local_rank) {
  ValidateDeviceSpec(spec, what);
  if (spec == "cpu") return torch::Device(torch::kCPU);
  const int gpus = VisibleGpus();
  if (spec == "auto" && gpus == 0) return torch::Device(torch::kCPU);
  if (gpus == 0) {
    if (!CudaBuild()) {
      throw ConfigError(what + ": '" + spec + "' asks for a GPU, but this fas was built against a CPU-only LibTorch "
                        "(fas doctor says which); rebuild with the CUDA wheel scripts/setup.sh installs, or use cpu");
    }
    throw ConfigError(what + ": '" + spec + "' asks for a GPU, but none is visible to this process (driver, "
                      "CUDA_VISIBLE_DEVICES); use auto to compute where a GPU is found, or cpu");
  }
  int index = 0;
  if (spec.size() > 5) {
    index = std::stoi(spec.substr(5));
    if (local_rank >= 0 && gpus > 1) {
      throw ConfigError(what + ": '" + spec + "' puts every data-parallel worker of this machine on one GPU; use "
                        "cuda (worker LOCAL_RANK takes cuda:LOCAL_RANK), or give each worker its own "
                        "CUDA_VISIBLE_DEVICES");
    }
  } else if (local_rank >= 0) {
    index = local_rank;  // one GPU a data-parallel worker, as torchrun's LOCAL_RANK says
  }
  if (index >= gpus) {
    throw ConfigError(what + ": GPU " + std::to_string(index) + " asked for, but this process sees " +
                      std::to_string(gpus) + " (cuda:0 .. cuda:" + std::to_string(gpus - 1) + ")" +
                      (local_rank >= 0 ? "; start no more workers a machine than it has GPUs" : ""));
  }
  return torch::Device(torch::kCUDA, static_cast<c10::DeviceIndex>(index));
}

torch::Device UseDevice(const std::string& spec, const std::string& what, int local_rank, bool tf32) {
  g_device = ResolveDevice(spec, what, local_rank);
  if (g_device.is_cuda()) {
    c10::impl::getDeviceGuardImpl(c10::DeviceType::CUDA)->setDevice(g_device);
    // TF32 on Ampere and later: float32 matmuls and convolutions on the tensor cores (10-bit mantissa products,
    // float32 accumulation), PyTorch's own default for convolutions and what its docs advise for training.
    at::globalContext().setAllowTF32CuBLAS(tf32);
    at::globalContext().setAllowTF32CuDNN(tf32);
  }
  // The CPU is what every earlier version computed on: said only when a GPU is the news.
  if (g_device.is_cuda()) {
    spdlog::info("device: {}", DescribeDevice(g_device));
  } else {
    spdlog::debug("device: cpu");
  }
  return g_device;
}

torch::Device ComputeDevice() { return g_device; }

std::string DescribeDevice(const torch::Device& device) {
  if (!device.is_cuda()) return "cpu";
  const int index = device.has_index() ? device.index() : 0;
  for (const GpuInfo& g : ListGpus()) {
    if (g.index != index) continue;
    return "cuda:" + std::to_string(index) + " (" + g.name + ", " + FormatGib(g.total_bytes) + ")";
  }
  return "cuda:" + std::to_string(index);
}

void SynchronizeDevice(const torch::Device& device) {
  if (device.is_cuda()) c10::impl::getDeviceGuardImpl(c10::DeviceType::CUDA)->synchronizeDevice(device.index());
}

torch::Tensor ToDevice(const torch::Tensor& t, const torch::Device& device) {
  if (!t.defined() || t.device() == device) return t;
  if (device.is_cuda() && t.device().is_cpu()) return t.pin_memory().to(device, /*non_blocking=*/true);
  return t.to(device);
}

Precision ParsePrecision(const std::string& spec, const std::string& what) {
  if (spec == "fp32") return Precision::kFloat32;
  if (spec == "bf16") return Precision::kBFloat16;
  if (spec == "fp16") return Precision::kFloat16;
  throw ConfigError(what + ": '" + spec + "' is not a precision (fp32 | bf16 | fp16)");
}

std::string PrecisionName(Precision p) {
  switch (p) {
    case Precision::kBFloat16: return "bf16";
    case Precision::kFloat16: return "fp16";
    default: return "fp32";
  }
}

Precision ResolvePrecision(const std::string& spec, const torch::Device& device, const std::string& what) {
  if (spec == "auto") return device.is_cuda() ? Precision::kBFloat16 : Precision::kFloat32;
  return ParsePrecision(spec, what);
}

torch::ScalarType PrecisionDtype(Precision p) {
  switch (p) {
    case Precision::kBFloat16: return torch::kBFloat16;
    case Precision::kFloat16: return torch::kFloat16;
    default: return torch::kFloat32;
  }
}

Autocast::Autocast(const torch::Device& device, Precision precision) : type_(device.type()) {
  if (precision == Precision::kFloat32) return;
  active_ = true;
  was_enabled_ = at::autocast::is_autocast_enabled(type_);
  was_dtype_ = at::autocast::get_autocast_dtype(type_);
  at::autocast::set_autocast_enabled(type_, true);
  at::autocast::set_autocast_dtype(type_, PrecisionDtype(precision));
  at::autocast::increment_nesting();
}

Autocast::~Autocast() {
  if (!active_) return;
  // The weights' low-precision copies are cached for the scope's forward pass; the outermost scope drops them so
  // the next step's casts see the updated weights.
  if (at::autocast::decrement_nesting() == 0) at::autocast::clear_cache();
  at::autocast::set_autocast_enabled(type_, was_enabled_);
  at::autocast::set_autocast_dtype(type_, was_dtype_);
}

}  // namespace fas

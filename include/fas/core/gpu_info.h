// What the GPUs of this machine are, for `fas doctor`, logs and run.json. Empty on a CPU-only LibTorch or a
// machine with no GPU.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace fas {

struct GpuInfo {
  int index = 0;
  std::string name;
  int64_t total_bytes = 0;
  int64_t free_bytes = 0;
  int major = 0, minor = 0;  // compute capability
  int multiprocessors = 0;
};

std::vector<GpuInfo> ListGpus();

// A GPU's memory as logs and `fas doctor` print it: "139.8 GiB".
std::string FormatGib(int64_t bytes);

// The versions of the CUDA runtime, cuDNN and NCCL this process loaded ("13.0", "9.19.0", "2.28.9"); "" when the
// LibTorch has no CUDA (or no cuDNN / NCCL).
struct CudaVersions {
  std::string runtime, driver, cudnn, nccl;
};
CudaVersions LoadedCudaVersions();

}  // namespace fas

#include "fas/core/gpu_info.h"

#include <torch/torch.h>

#include <cstdio>

#ifdef FAS_CUDA
#include <ATen/cuda/CUDAContext.h>
#include <c10/cuda/CUDAGuard.h>
#include <cuda_runtime_api.h>
#include <torch/csrc/cuda/nccl.h>
#endif

namespace fas {
namespace {

#ifdef FAS_CUDA
// CUDA's integer version (13000) as "13.0".
std::string CudaVersionString(int v) { return std::to_string(v / 1000) + "." + std::to_string(v % 1000 / 10); }
#endif

}  // namespace

std::vector<GpuInfo> ListGpus() {
  std::vector<GpuInfo> out;
#ifdef FAS_CUDA
  if (!torch::cuda::is_available()) return out;
  for (int i = 0; i < static_cast<int>(torch::cuda::device_count()); ++i) {
    const cudaDeviceProp* p = at::cuda::getDeviceProperties(static_cast<c10::DeviceIndex>(i));
    GpuInfo g;
    g.index = i;
    g.name = p->name;
    g.total_bytes = static_cast<int64_t>(p->totalGlobalMem);
    g.major = p->major;
    g.minor = p->minor;
    g.multiprocessors = p->multiProcessorCount;
    c10::cuda::CUDAGuard guard(static_cast<c10::DeviceIndex>(i));
    size_t free = 0, total = 0;
    if (cudaMemGetInfo(&free, &total) == cudaSuccess) g.free_bytes = static_cast<int64_t>(free);
    out.push_back(g);
  }
#endif
  return out;
}

std::string FormatGib(int64_t bytes) {
  char buf[32];
  std::snprintf(buf, sizeof(buf), "%.1f GiB", static_cast<double>(bytes) / (1 << 30));
  return buf;
}

CudaVersions LoadedCudaVersions() {
  CudaVersions v;
#ifdef FAS_CUDA
  int runtime = 0, driver = 0;
  if (cudaRuntimeGetVersion(&runtime) == cudaSuccess) v.runtime = CudaVersionString(runtime);
  if (cudaDriverGetVersion(&driver) == cudaSuccess && driver > 0) v.driver = CudaVersionString(driver);
  // Through LibTorch, which loads cuDNN itself (fas links no cuDNN of its own); major * 10000 + minor * 100 +
  // patch since cuDNN 9.
  const long cudnn = at::detail::getCUDAHooks().hasCuDNN() ? at::detail::getCUDAHooks().versionRuntimeCuDNN() : 0;
  if (cudnn > 0) {
    v.cudnn = std::to_string(cudnn / 10000) + "." + std::to_string(cudnn / 100 % 100) + "." + std::to_string(cudnn % 100);
  }
  const uint64_t nccl = torch::cuda::nccl::version();  // major << 32 | minor << 16 | patch
  if (nccl > 0) {
    v.nccl = std::to_string(nccl >> 32) + "." + std::to_string(nccl >> 16 & 0xffff) + "." + std::to_string(nccl & 0xffff);
  }
#endif
  return v;
}

}  // namespace fas

#include "fas/engine/determinism.h"

#include <ATen/Context.h>
#include <spdlog/spdlog.h>

#include <cstdlib>

namespace fas {

void UseDeterministicKernels() {
  // :4096:8 is one of the two settings cuBLAS documents as reproducible (eight 4 MiB workspaces); the other,
  // :16:8, is kept when the environment chose it.
  setenv("CUBLAS_WORKSPACE_CONFIG", ":4096:8", /*overwrite=*/0);
  at::globalContext().setDeterministicAlgorithms(true, /*warn_only=*/false);
  at::globalContext().setDeterministicCuDNN(true);
  at::globalContext().setBenchmarkCuDNN(false);
  spdlog::info("train.deterministic: deterministic kernels only (CUBLAS_WORKSPACE_CONFIG={})",
               std::getenv("CUBLAS_WORKSPACE_CONFIG"));
}

bool IsDeterminismError(const std::string& what) {
  return what.find("does not have a deterministic implementation") != std::string::npos;
}

}  // namespace fas

#include "fas/encoders/kernels.h"

#include <ATen/autocast_mode.h>

#include <cstdlib>

#include "fas/core/error.h"

namespace fas::kernels {

void CheckKernels(const std::string& value, const std::string& field) {
  if (value != kAuto && value != kReference) {
    throw ConfigError(field + " must be auto or reference (got '" + value + "')");
  }
}

std::string EffectiveKernels(const std::string& configured) {
  const char* forced = std::getenv("FAS_KERNELS");
  if (forced == nullptr || *forced == '\0') return configured;
  CheckKernels(forced, "FAS_KERNELS");
  return forced;
}

bool RoutesOn(const std::string& configured) { return EffectiveKernels(configured) == kAuto; }

bool CpuInference(bool fast, const torch::Tensor& x) {
  return fast && c10::InferenceMode::is_enabled() && x.device().is_cpu() &&
         !at::autocast::is_autocast_enabled(at::kCPU);
}

}  // namespace fas::kernels

// The switch between an encoder's plain modules and the CPU speed routes beside them (include/fas/encoders/kernels/).
// The plain modules compute what HuggingFace's modeling files compute, op for op, and are the reference every route
// is tested against; `kernels: reference` in the encoder's config, or FAS_KERNELS=reference in the environment, runs
// them alone, so any result can be checked against the reference without editing a config.
#pragma once

#include <torch/torch.h>

#include <string>

namespace fas::kernels {

// auto: a speed route replaces plain module code wherever one applies; reference: never.
inline const std::string kAuto = "auto";
inline const std::string kReference = "reference";

// Throws ConfigError naming `field` unless `value` is auto or reference.
void CheckKernels(const std::string& value, const std::string& field);
// What a module built now runs: FAS_KERNELS when set (it overrides the config), else `configured`.
std::string EffectiveKernels(const std::string& configured);
// Whether a module built now runs the routes: EffectiveKernels(configured) is auto. Encoders without a `kernels` key
// of their own (Whisper, MingTok-Audio) pass the default and follow FAS_KERNELS alone.
bool RoutesOn(const std::string& configured = kAuto);
// Whether a CPU inference route may replace plain code on x: kernels auto, InferenceMode (no autograd graph to
// keep), x on the CPU, and no CPU autocast (the plain modules then run in the precision it asks for).
bool CpuInference(bool fast, const torch::Tensor& x);

}  // namespace fas::kernels

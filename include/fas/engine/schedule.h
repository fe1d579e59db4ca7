// Learning-rate schedules as a multiplier of each parameter group's base rate, with the same definitions as
// HuggingFace transformers' get_{cosine,linear,constant}_schedule_with_warmup, so a run here and a run there with
// the same numbers follow the same curve.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace fas {

// Warmup given as a fraction of the total (a value below 1) or as a number of optimizer steps (1 or more).
// Throws ConfigError on a negative value or a step count that is not a whole number.
int64_t ResolveWarmupSteps(double warmup, int64_t total_steps);

class LrSchedule {
 public:
  // kind: cosine | linear | constant. total_steps: optimizer steps of the whole run (> 0).
  LrSchedule(std::string kind, int64_t warmup_steps, int64_t total_steps);

  // Multiplier for optimizer step `step` (0-based): linear ramp step / warmup during warmup, then
  // cosine: 0.5 (1 + cos(pi p)), linear: 1 - p, constant: 1, where p = (step - warmup) / (total - warmup).
  double Factor(int64_t step) const;

  const std::string& kind() const { return kind_; }
  int64_t warmup_steps() const { return warmup_; }
  int64_t total_steps() const { return total_; }

  static const std::vector<std::string>& Kinds();

 private:
  std::string kind_;
  int64_t warmup_, total_;
};

}  // namespace fas

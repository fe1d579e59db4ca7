#include "fas/engine/schedule.h"

#include <algorithm>
#include <cmath>

#include "fas/core/error.h"

namespace fas {

int64_t ResolveWarmupSteps(double warmup, int64_t total_steps) {
  if (!(warmup >= 0)) throw ConfigError("train.warmup must be >= 0 (a fraction below 1, or a number of steps)");
  if (warmup < 1) return static_cast<int64_t>(std::llround(warmup * static_cast<double>(total_steps)));
  if (warmup != std::floor(warmup)) {
    throw ConfigError("train.warmup = " + std::to_string(warmup) +
                      ": a value of 1 or more is a number of steps and must be a whole number");
  }
  return static_cast<int64_t>(warmup);
}

const std::vector<std::string>& LrSchedule::Kinds() {
  static const std::vector<std::string> kinds = {"cosine", "linear", "constant"};
  return kinds;
}

LrSchedule::LrSchedule(std::string kind, int64_t warmup_steps, int64_t total_steps)
    : kind_(std::move(kind)), warmup_(warmup_steps), total_(total_steps) {
  if (std::find(Kinds().begin(), Kinds().end(), kind_) == Kinds().end()) {
    throw ConfigError("train.schedule '" + kind_ + "' is unknown; use cosine, linear or constant");
  }
  if (total_ <= 0) throw ConfigError("the schedule needs a positive number of steps (train.max_steps or epochs)");
  if (warmup_ < 0) throw ConfigError("train.warmup must not be negative");
}

double LrSchedule::Factor(int64_t step) const {
  if (step < warmup_) return static_cast<double>(step) / static_cast<double>(std::max<int64_t>(1, warmup_));
  if (kind_ == "constant") return 1.0;
  const double progress = std::min(
      1.0, static_cast<double>(step - warmup_) / static_cast<double>(std::max<int64_t>(1, total_ - warmup_)));
  if (kind_ == "linear") return std::max(0.0, 1.0 - progress);
  return std::max(0.0, 0.5 * (1.0 + std::cos(M_PI * progress)));
}

}  // namespace fas

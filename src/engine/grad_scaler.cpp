#include "fas/engine/grad_scaler.h"

#include <cmath>
#include <string>

#include "fas/core/error.h"

namespace fas {

GradScaler::GradScaler(double initial_scale, int64_t growth_interval)
    : scale_(initial_scale), growth_interval_(growth_interval) {
  if (!(std::isfinite(initial_scale) && initial_scale > 0) || growth_interval < 1) {
    throw Error("GradScaler: the initial scale must be a positive number and the growth interval at least 1");
  }
}

void GradScaler::Update(bool finite) {
  if (!finite) {
    scale_ *= 0.5;
    growth_tracker_ = 0;
    return;
  }
  if (++growth_tracker_ == growth_interval_) {
    scale_ *= 2.0;
    growth_tracker_ = 0;
  }
}

void GradScaler::Restore(double scale, int64_t growth_tracker) {
  if (!(std::isfinite(scale) && scale > 0)) {
    throw Error("fp16 loss scale " + std::to_string(scale) + " in the checkpoint is not a positive number");
  }
  if (growth_tracker < 0 || growth_tracker >= growth_interval_) {
    throw Error("fp16 loss scale growth tracker " + std::to_string(growth_tracker) + " in the checkpoint is outside [0, " +
                std::to_string(growth_interval_) + ")");
  }
  scale_ = scale;
  growth_tracker_ = growth_tracker;
}

}  // namespace fas

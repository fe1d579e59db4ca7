// Dynamic loss scaling for train.precision: fp16. Half precision underflows below 6e-8, where many gradients of
// a network lie: the loss is multiplied by `scale` before the backward pass, so the gradients (float32, of
// float32 weights) carry it too and are divided by it again before clipping and the update. A step whose
// gradients overflow (inf / nan) is skipped and the scale halved; after `growth_interval` good steps in a row it
// doubles. These are torch.cuda.amp.GradScaler's rules and defaults (65536, x2 after 2000 good steps, x0.5).
// bf16 has float32's range and needs none of this.
#pragma once

#include <cstdint>

namespace fas {

class GradScaler {
 public:
  GradScaler(double initial_scale = 65536.0, int64_t growth_interval = 2000);

  // What the loss is multiplied by before backward.
  double scale() const { return scale_; }
  // Good steps since the scale last changed or overflowed.
  int64_t growth_tracker() const { return growth_tracker_; }
  int64_t growth_interval() const { return growth_interval_; }

  // After a step's backward: `finite` whether every gradient was finite (the step was taken). An overflow
  // halves the scale and restarts the count; the growth_interval-th good step in a row doubles it.
  void Update(bool finite);

  // A checkpoint's state back; throws Error on a scale that is not a positive finite number or a tracker outside
  // [0, growth_interval).
  void Restore(double scale, int64_t growth_tracker);

 private:
  double scale_;
  int64_t growth_interval_;
  int64_t growth_tracker_ = 0;
};

}  // namespace fas

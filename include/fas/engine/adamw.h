// AdamW (decoupled weight decay) as torch::optim::AdamW computes it, with each parameter's update done in one
// pass over its elements instead of AdamW's tensor-at-a-time form (eight passes over the parameter and two
// temporaries as large as it). The state (step, exp_avg, exp_avg_sq) lives where torch::optim::AdamW keeps it,
// so checkpoints are written and read by the same serialisation and stay interchangeable with it.
#pragma once

#include <torch/torch.h>

#include <vector>

namespace fas {

class FusedAdamW : public torch::optim::AdamW {
 public:
  using torch::optim::AdamW::AdamW;

  // The next steps use gradient * scale in place of the gradient (the trainer folds the mean over the step's
  // examples and the clipping factor into it instead of rescaling every gradient tensor first). Default 1.
  void set_grad_scale(double scale) { grad_scale_ = scale; }

  // Parameters without a gradient are skipped (their step count does not advance), as in AdamW. amsgrad is not
  // supported (throws).
  torch::Tensor step(LossClosure closure = nullptr) override;

 private:
  double grad_scale_ = 1.0;
};

// Sum of the squares of every element of `tensors`, accumulated in double.
double SquaredNorm(const std::vector<torch::Tensor>& tensors);

}  // namespace fas

// AdamW (decoupled weight decay) as torch::optim::AdamW computes it, with each parameter's update done in one
// pass over its elements instead of AdamW's tensor-at-a-time form (eight passes over the parameter and two
// temporaries as large as it). The state (step, exp_avg, exp_avg_sq) lives where torch::optim::AdamW keeps it,
// so checkpoints are written and read by the same serialisation and stay interchangeable with it.
// Parameters on the CPU go through our own loop; parameters on a GPU through ATen's fused AdamW kernel
// (at::_fused_adamw_, the one torch.optim.AdamW(fused=True) runs), one launch for all the parameters of a group
// that share a device, a dtype and a step count. Both compute the same update in the parameter's dtype; they
// differ only in rounding (ATen's kernel forms the bias corrections in float32, moves the first moment by lerp).
#pragma once

#include <torch/torch.h>

#include <vector>

namespace fas {

class FusedAdamW : public torch::optim::AdamW {
 public:
  using torch::optim::AdamW::AdamW;

  // The next steps use gradient * scale in place of the gradient (the trainer folds the mean over the step's
  // examples, the clipping factor and the fp16 loss scale into it instead of rescaling every gradient tensor
  // first). Default 1. On a GPU the gradients are left scaled in place by the step.
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

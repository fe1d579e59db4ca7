// What every attention route takes, and the q/k/v projections fused into one product that they share.
#pragma once

#include <torch/torch.h>

#include <cstdint>

#include "fas/encoders/kernels/derived_cache.h"

namespace fas::kernels {

// A self-attention's projections (module holders: copies share the parameters).
struct AttentionProjections {
  torch::nn::Linear q{nullptr}, k{nullptr}, v{nullptr}, out{nullptr};
  int64_t heads = 1;
  int64_t head_dim() const { return q->weight.size(0) / heads; }
  double scale() const;  // 1 / sqrt(head_dim), applied to q
};

// Additive terms of the scores [B, H, T, T], each undefined when absent: the padding mask [B, 1, 1, T] and a relative
// position bias [H, T, T] weighted by a gate [B, H, T, 1] (WavLM).
struct AttentionBiases {
  torch::Tensor mask, position, gate;
};

// scores + gate * position + mask, in that order (the plain modules' order, so every route rounds alike).
torch::Tensor AddBiases(torch::Tensor scores, const AttentionBiases& biases);
// gate * position + mask as one additive term for a fused kernel (undefined when there is neither).
torch::Tensor JoinBiases(const AttentionBiases& biases);

// q, k and v as one [3D, D] matrix and [3D] bias, the scale folded into q's rows, derived once (inference only). The
// key projection may have no bias (Whisper's); q and v need theirs.
class FusedQkv {
 public:
  // The [3D, D] matrix made anew, not kept (for a product that keeps its own packed copy).
  static torch::Tensor MakeWeight(const AttentionProjections& p);
  const torch::Tensor& Weight(const AttentionProjections& p);
  const torch::Tensor& Bias(const AttentionProjections& p);
  // x [B, T, D] -> [B, T, 3D], q already scaled.
  torch::Tensor operator()(const AttentionProjections& p, const torch::Tensor& x);

 private:
  DerivedCache weight_, bias_;
};

// Inference on any device: the attention with q, k and v from one product, batched over utterances and heads.
class FusedQkvAttention {
 public:
  static bool Applies(bool fast) { return fast && c10::InferenceMode::is_enabled(); }
  // x [B, T, D] -> [B, T, D], out projection applied.
  static torch::Tensor Run(const AttentionProjections& p, FusedQkv& qkv, const torch::Tensor& x,
                           const AttentionBiases& biases);
};

}  // namespace fas::kernels

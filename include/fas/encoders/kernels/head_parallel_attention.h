// Route for CPU inference: q, k and v from one product (oneDNN's when the input is float32, onednn_linear.h), then
// each (utterance, head) pair is one task of a parallel loop, done whole by one thread: its scores [T, T] (1 MB at
// 10 s of audio, so they stay in the core's cache), the biases, the softmax in place, and the product with v
// written straight into the head's columns of the output, which is [B, T, D] as the out projection takes it. One
// thread runs these 64-deep products near the core's limit; the batched matmul split each across both threads
// (wav2vec2-base, 10 s, 2 threads: attention 7.7 -> 6.0 ms a layer).
#pragma once

#include <torch/torch.h>

#include "fas/encoders/kernels/attention.h"
#include "fas/encoders/kernels/onednn_linear.h"

namespace fas::kernels {

class HeadParallelAttention {
 public:
  static bool Applies(bool fast, const torch::Tensor& x);
  // x [B, T, D] -> [B, T, D], out projection applied.
  torch::Tensor operator()(const AttentionProjections& p, FusedQkv& fused, const torch::Tensor& x,
                           const AttentionBiases& biases);

 private:
  OneDnnLinear qkv_, out_;
};

}  // namespace fas::kernels

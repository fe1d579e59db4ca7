// Route: attention on a GPU through LibTorch's fused scaled_dot_product_attention (flash attention without a bias,
// the memory-efficient kernel with one), so that the [B, H, T, T] scores never reach device memory. HuggingFace's
// SDPA attention, which users compare against, runs the same kernels. On the CPU every encoder keeps its own three
// ops (and the tuned routes beside this one), which the parity fixtures were measured with.
#pragma once

#include <torch/torch.h>

namespace fas::kernels {

class GpuAttention {
 public:
  // Any device but the CPU: training and inference alike (dropout is the kernel's own).
  static bool Applies(const torch::Tensor& q) { return !q.device().is_cpu(); }
  // softmax(q k^T * scale + bias) v, dropout on the probabilities; q, k, v [B, H, T, hd]; bias additive,
  // broadcastable to [B, H, T, T] (padding masks, position biases; -inf allowed where a row keeps a finite key),
  // or undefined. Returns [B, H, T, hd] in q's dtype.
  static torch::Tensor Run(const torch::Tensor& q, const torch::Tensor& k, const torch::Tensor& v,
                           const torch::Tensor& bias, double scale, double dropout);
};

}  // namespace fas::kernels

// Route for CPU inference: a linear layer as oneDNN's inner product, the operator LibTorch's compiler emits for
// frozen CPU models (mkldnn::_linear_pointwise), with the weight reordered once into oneDNN's blocked layout and
// cached, and the activation that follows it fused in. LibTorch's own float32 GEMM is MKL's, which on an AMD CPU
// takes its AVX2 code path: at wav2vec2-base's shapes on this project's AMD EPYC (Zen 4, AVX-512), 2 threads, MKL
// reaches 115-170 GFLOP/s and oneDNN's AVX-512 kernels 180-210 (docs/acoustic_encoders.md, "Speed routes"). The
// cost: a second copy of the weights, made the first time the route runs and remade when a weight changes.
#pragma once

#include <torch/torch.h>

#include <vector>

#include "fas/encoders/kernels/derived_cache.h"

namespace fas::kernels {

// What runs on the product's output inside the same kernel.
enum class PostOp { kNone, kGelu, kRelu };

class OneDnnLinear {
 public:
  // Whether the route runs for x (kernels auto, inference, float32 on the CPU, a LibTorch built with oneDNN).
  static bool Applies(bool fast, const torch::Tensor& x);
  // post(x W^T + b) for x [..., in] -> [..., out]. `sources`: the parameters `weight` derives from (the packed copy
  // is remade when one of them changes).
  torch::Tensor operator()(const torch::Tensor& x, const torch::Tensor& weight, const torch::Tensor& bias,
                           const std::vector<torch::Tensor>& sources, PostOp post = PostOp::kNone);
  torch::Tensor operator()(const torch::nn::Linear& layer, const torch::Tensor& x, PostOp post = PostOp::kNone);
  // post(layer(x)) through the route when it applies, else through LibTorch's linear and activation.
  torch::Tensor Forward(bool fast, const torch::nn::Linear& layer, const torch::Tensor& x,
                        PostOp post = PostOp::kNone);

 private:
  DerivedCache packed_;
};

}  // namespace fas::kernels

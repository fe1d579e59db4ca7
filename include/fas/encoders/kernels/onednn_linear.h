// Route for CPU inference: a linear layer as oneDNN's inner product (mkldnn::_linear_pointwise, an operator
// LibTorch registers for its compiler's CPU path), with the weight reordered once into oneDNN's blocked layout and
// cached, and the activation that follows it fused in. LibTorch's own float32 GEMM is MKL's, which on an AMD CPU
// takes its AVX2 code path: at wav2vec2-base's shapes on this project's AMD EPYC (Zen 4, AVX-512), 2 threads, MKL
// reaches 115-142 GFLOP/s and oneDNN's AVX-512 kernels 183-212 (docs/acoustic_encoders.md, "How inference runs").
// The cost: a second copy of the weights (about 340 MB for wav2vec2-base, 2.5 GB for Whisper-large-v3's encoder),
// made the first time the route runs and remade when a weight changes.
#pragma once

#include <torch/torch.h>

#include <string>
#include <vector>

#include "fas/encoders/kernels/derived_cache.h"

namespace fas::kernels {

// What runs on the product's output inside the same kernel.
enum class PostOp { kNone, kGelu, kRelu };

// The post-op that computes `activation` (HuggingFace's name) inside the product: gelu (the erf form) and relu;
// kNone for any other, which then runs after it.
PostOp FusedActivation(const std::string& activation);

class OneDnnLinear {
 public:
  // Whether the route runs for x (kernels auto, inference, float32 on the CPU, a LibTorch built with oneDNN).
  static bool Applies(bool fast, const torch::Tensor& x);
  // post(x W^T + b) for x [..., in] -> [..., out]. `sources`: the parameters `weight` derives from (the packed copy
  // is remade when one of them changes).
  torch::Tensor operator()(const torch::Tensor& x, const torch::Tensor& weight, const torch::Tensor& bias,
                           const std::vector<torch::Tensor>& sources, PostOp post = PostOp::kNone) {
    return Run(x, packed_.Get(sources, [&] { return Pack(weight); }), bias, post);
  }
  // The same with a weight made by `make_weight()` only when it is (re)packed, and not kept: a weight derived for
  // this product alone (the fused q/k/v matrix) then costs no second copy beside the packed one.
  template <class F>
  torch::Tensor Derived(const torch::Tensor& x, F make_weight, const torch::Tensor& bias,
                        const std::vector<torch::Tensor>& sources, PostOp post = PostOp::kNone) {
    return Run(x, packed_.Get(sources, [&] { return Pack(make_weight()); }), bias, post);
  }
  torch::Tensor operator()(const torch::nn::Linear& layer, const torch::Tensor& x, PostOp post = PostOp::kNone);
  // post(layer(x)) through the route when it applies, else through LibTorch's linear and activation.
  torch::Tensor Forward(bool fast, const torch::nn::Linear& layer, const torch::Tensor& x, PostOp post = PostOp::kNone);

 private:
  static torch::Tensor Pack(const torch::Tensor& weight);
  static torch::Tensor Run(const torch::Tensor& x, const torch::Tensor& packed, const torch::Tensor& bias, PostOp post);

  DerivedCache packed_;
};

}  // namespace fas::kernels

// Route for short input under inference (up to kMaxRows rows, about 3 s of audio): every linear of the transformer
// as oneDNN's 1x1 convolution over [1, in, 1, rows] ("columns": one column a row of x), with the weight reordered
// once into oneDNN's blocked layout and cached. OpenBLAS repacks the whole weight matrix on every call, which
// dominates when 49 rows meet a 768 x 3072 matrix fresh from memory: the 48 transformer products of wav2vec2-base at
// 49 rows took 125 -> 95 ms at one thread this way; at 400-500 rows OpenBLAS was 4-8 % faster, the two even at about
// 200. The feed-forward block and the attention stay in columns between their products instead of transposing back
// to rows each time. The cost: a second copy of the transformer weights, made the first time short input runs.
#pragma once

#include <torch/torch.h>

#include <cstdint>
#include <string>
#include <vector>

#include "fas/encoders/kernels/attention.h"
#include "fas/encoders/kernels/derived_cache.h"

namespace fas::kernels {

// y = x W^T + b for x [..., in], as torch::linear.
class PackedLinear {
 public:
  static constexpr int64_t kMaxRows = 160;

  // Whether the route runs for x [..., in] (kernels auto, inference, float32 on the CPU, at most kMaxRows rows).
  static bool Applies(bool fast, const torch::Tensor& x);
  // x [..., in] -> oneDNN tensor [1, in, 1, rows].
  static torch::Tensor ToColumns(const torch::Tensor& x);
  // [1, out, 1, rows] (dense or oneDNN) -> [..., out] with the leading sizes of `like`: a transposed view.
  static torch::Tensor FromColumns(const torch::Tensor& y, const torch::Tensor& like);

  // columns [1, in, 1, rows] -> [1, out, 1, rows], oneDNN in and out. `sources`: the parameters `weight` derives
  // from (the packed copy is rebuilt when one of them changes).
  torch::Tensor Columns(const torch::Tensor& columns, const torch::Tensor& weight, const torch::Tensor& bias,
                        const std::vector<torch::Tensor>& sources);
  torch::Tensor Columns(const torch::nn::Linear& layer, const torch::Tensor& columns);
  // x [..., in] -> [..., out], contiguous.
  torch::Tensor operator()(const torch::nn::Linear& layer, const torch::Tensor& x);

 private:
  DerivedCache packed_;
};

// HuggingFace's feed-forward block (intermediate_dense, activation gelu or relu, output_dense) in columns.
class ColumnsFeedForward {
 public:
  static bool Applies(bool fast, const torch::Tensor& x, const std::string& activation);
  torch::Tensor operator()(const torch::nn::Linear& intermediate, const torch::nn::Linear& output,
                           const std::string& activation, const torch::Tensor& x);

 private:
  PackedLinear intermediate_, output_;
};

// Self-attention in columns: q, k and v come out of their product transposed, [H, head_dim, T] a row of the batch,
// the layout k^T needs as it is; the output is computed transposed as well (v^T probs^T), the out projection's
// input layout, so no copy sits between the three products. x [B, T, D] -> [B, T, D].
class ColumnsAttention {
 public:
  static bool Applies(bool fast, const torch::Tensor& x) { return PackedLinear::Applies(fast, x); }
  torch::Tensor operator()(const AttentionProjections& p, FusedQkv& fused, const torch::Tensor& x,
                           const AttentionBiases& biases);

 private:
  PackedLinear qkv_, out_;
};

}  // namespace fas::kernels

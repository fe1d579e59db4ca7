#include "blocks.h"

#include <cmath>
#include <limits>

#include "fas/core/error.h"

namespace fas::fusion {

torch::Tensor MaskedSoftmax(const torch::Tensor& scores, const torch::Tensor& mask) {
  const torch::Tensor m = mask.expand_as(scores);
  const torch::Tensor any = m.any(-1, /*keepdim=*/true);
  // Rows without a valid key softmax over everything (finite), then are zeroed: no NaN reaches the gradients.
  const torch::Tensor usable = m | ~any;
  const torch::Tensor w = scores.masked_fill(~usable, -std::numeric_limits<float>::infinity()).softmax(-1);
  return w * m.to(w.dtype());
}

torch::Tensor MaskedMean(const torch::Tensor& x, const torch::Tensor& mask) {
  const torch::Tensor m = mask.to(x.dtype()).unsqueeze(-1);
  return (x * m).sum(1) / m.sum(1).clamp_min(1);
}

MultiHeadAttentionImpl::MultiHeadAttentionImpl(int64_t d_model, int64_t num_heads)
    : num_heads_(num_heads), head_dim_(d_model / num_heads) {
  if (num_heads < 1 || d_model % num_heads != 0) {
    throw ConfigError("attention width " + std::to_string(d_model) + " does not divide into " +
                      std::to_string(num_heads) + " heads");
  }
  q_proj_ = register_module("q_proj", torch::nn::Linear(d_model, d_model));
  k_proj_ = register_module("k_proj", torch::nn::Linear(d_model, d_model));
  v_proj_ = register_module("v_proj", torch::nn::Linear(d_model, d_model));
  out_proj_ = register_module("out_proj", torch::nn::Linear(d_model, d_model));
}

std::pair<torch::Tensor, torch::Tensor> MultiHeadAttentionImpl::forward(const torch::Tensor& query,
                                                                        const torch::Tensor& memory,
                                                                        const torch::Tensor& memory_mask) {
  const int64_t B = query.size(0), Nq = query.size(1), N = memory.size(1);
  auto split = [&](const torch::Tensor& t, int64_t len) {
    return t.view({B, len, num_heads_, head_dim_}).transpose(1, 2);  // [B, h, len, hd]
  };
  const torch::Tensor q = split(q_proj_(query), Nq);
  const torch::Tensor k = split(k_proj_(memory), N);
  const torch::Tensor v = split(v_proj_(memory), N);
  const torch::Tensor scores = torch::matmul(q, k.transpose(-2, -1)) / std::sqrt(static_cast<double>(head_dim_));
  const torch::Tensor w = MaskedSoftmax(scores, memory_mask.to(torch::kBool).view({B, 1, 1, N}));
  const torch::Tensor out = torch::matmul(w, v).transpose(1, 2).reshape({B, Nq, num_heads_ * head_dim_});
  return {out_proj_(out), w.mean(1)};
}

CrossAttentionBlockImpl::CrossAttentionBlockImpl(int64_t d_model, int64_t num_heads, int64_t mlp_hidden,
                                                 double dropout) {
  attention_ = register_module("attention", MultiHeadAttention(d_model, num_heads));
  attention_norm_ = register_module("attention_norm", torch::nn::LayerNorm(torch::nn::LayerNormOptions({d_model})));
  mlp_ = register_module("mlp", torch::nn::Sequential(torch::nn::Linear(d_model, mlp_hidden), torch::nn::GELU(),
                                                      torch::nn::Dropout(dropout),
                                                      torch::nn::Linear(mlp_hidden, d_model)));
  mlp_norm_ = register_module("mlp_norm", torch::nn::LayerNorm(torch::nn::LayerNormOptions({d_model})));
  dropout_ = register_module("dropout", torch::nn::Dropout(dropout));
}

std::pair<torch::Tensor, torch::Tensor> CrossAttentionBlockImpl::forward(const torch::Tensor& x,
                                                                         const torch::Tensor& memory,
                                                                         const torch::Tensor& memory_mask) {
  auto [attended, weights] = attention_(x, memory, memory_mask);
  torch::Tensor h = attention_norm_(x + dropout_(attended));
  h = mlp_norm_(h + dropout_(mlp_->forward(h)));
  return {h, weights};
}

AttentivePoolingImpl::AttentivePoolingImpl(int64_t d_model) {
  score_ = register_module("score", torch::nn::Linear(d_model, 1));
}

std::pair<torch::Tensor, torch::Tensor> AttentivePoolingImpl::forward(const torch::Tensor& x,
                                                                      const torch::Tensor& mask) {
  const torch::Tensor w = MaskedSoftmax(score_(x).squeeze(-1), mask.to(torch::kBool));
  return {(w.unsqueeze(-1) * x).sum(1), w};
}

torch::nn::Sequential MakeClassifier(int64_t in, int64_t hidden, int64_t num_classes, double dropout) {
  return torch::nn::Sequential(torch::nn::Linear(in, hidden), torch::nn::GELU(), torch::nn::Dropout(dropout),
                               torch::nn::Linear(hidden, num_classes));
}

}  // namespace fas::fusion

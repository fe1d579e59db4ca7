// Building blocks of the fusion heads. Attention is written out here: LibTorch 1.13 has no
// scaled_dot_product_attention, and nn::MultiheadAttention wants sequence-first inputs and float masks.
#pragma once

#include <torch/torch.h>

namespace fas::fusion {

// Multi-head attention of `query` over `memory`, with a key padding mask (bool, true = real token). A row whose
// keys are all padding attends nothing (zero output, zero weights) instead of producing NaN. The query batch may be
// 1 (queries shared by every batch row) or the memory's.
class MultiHeadAttentionImpl : public torch::nn::Module {
 public:
  MultiHeadAttentionImpl(int64_t d_model, int64_t num_heads);
  // Returns the output [B, Nq, d] and the weights averaged over heads [B, Nq, N].
  std::pair<torch::Tensor, torch::Tensor> forward(const torch::Tensor& query, const torch::Tensor& memory,
                                                  const torch::Tensor& memory_mask);
  // Whether `forward` moves the key / value projections onto the query side (fewer operations when the queries
  // are few and the keys many); the result is the same up to rounding.
  bool Factored(int64_t num_queries, int64_t num_keys) const;

 private:
  int64_t num_heads_, head_dim_;
  torch::nn::Linear q_proj_{nullptr}, k_proj_{nullptr}, v_proj_{nullptr}, out_proj_{nullptr};
};
TORCH_MODULE(MultiHeadAttention);

// Post-norm cross-attention block: x = LN(x + drop(attn(x, memory))); x = LN(x + drop(MLP(x))).
class CrossAttentionBlockImpl : public torch::nn::Module {
 public:
  CrossAttentionBlockImpl(int64_t d_model, int64_t num_heads, int64_t mlp_hidden, double dropout);
  std::pair<torch::Tensor, torch::Tensor> forward(const torch::Tensor& x, const torch::Tensor& memory,
                                                  const torch::Tensor& memory_mask);

 private:
  MultiHeadAttention attention_{nullptr};
  torch::nn::LayerNorm attention_norm_{nullptr}, mlp_norm_{nullptr};
  torch::nn::Sequential mlp_{nullptr};
  torch::nn::Dropout dropout_{nullptr};
};
TORCH_MODULE(CrossAttentionBlock);

// Attention pooling: one learned scoring vector, softmax over the valid tokens, weighted sum.
class AttentivePoolingImpl : public torch::nn::Module {
 public:
  explicit AttentivePoolingImpl(int64_t d_model);
  // Returns pooled [B, d] and weights [B, N].
  std::pair<torch::Tensor, torch::Tensor> forward(const torch::Tensor& x, const torch::Tensor& mask);

 private:
  torch::nn::Linear score_{nullptr};
};
TORCH_MODULE(AttentivePooling);

// Linear → GELU → dropout → Linear over the classes.
torch::nn::Sequential MakeClassifier(int64_t in, int64_t hidden, int64_t num_classes, double dropout);

// `values` [B, k, out]: rows of x W^T + b, computed without a gradient, times `keep` [B, k] (bool). Returns them
// with the gradient that expression has for `weight`, `bias` and `rows` [B, k, in], the inputs of those rows (the
// rows' gradient only when they require one).
torch::Tensor KeptRowsLinear(const torch::Tensor& values, const torch::Tensor& rows, const torch::Tensor& keep,
                             const torch::Tensor& weight, const torch::Tensor& bias);

// Mean over the valid tokens [B, N, d] → [B, d] (zeros for a row with none).
torch::Tensor MaskedMean(const torch::Tensor& x, const torch::Tensor& mask);

// Softmax over the last dim restricted to `mask` (broadcastable, bool); all-masked rows give zeros.
torch::Tensor MaskedSoftmax(const torch::Tensor& scores, const torch::Tensor& mask);

}  // namespace fas::fusion

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

namespace {

struct KeptRowsLinearFunction : torch::autograd::Function<KeptRowsLinearFunction> {
  static torch::Tensor forward(torch::autograd::AutogradContext* ctx, const torch::Tensor& values,
                               const torch::Tensor& rows, const torch::Tensor& keep, const torch::Tensor& weight,
                               const torch::Tensor& bias) {
    ctx->save_for_backward({rows, keep, weight});
    ctx->saved_data["weight_grad"] = weight.requires_grad();
    ctx->saved_data["bias_grad"] = bias.requires_grad();
    return values.clone();
  }
  static torch::autograd::variable_list backward(torch::autograd::AutogradContext* ctx,
                                                 torch::autograd::variable_list grads) {
    const auto saved = ctx->get_saved_variables();
    const torch::Tensor& rows = saved[0];
    const torch::Tensor& weight = saved[2];
    // Under autocast the rows were computed in bf16 / fp16 and the gradient may arrive in float32: the product is
    // taken in the wider of the two (autograd casts the result to the weight's dtype).
    const auto dtype = torch::promote_types(grads[0].scalar_type(), rows.scalar_type());
    const torch::Tensor g =
        (grads[0] * saved[1].unsqueeze(-1).to(grads[0].dtype())).reshape({-1, grads[0].size(-1)}).to(dtype);
    torch::Tensor rows_grad, weight_grad, bias_grad;
    // The rows' own gradient when they come from something trained (the acoustic layer mix): k rows, not P.
    if (ctx->needs_input_grad(1)) rows_grad = g.mm(weight.to(dtype)).view(rows.sizes()).to(rows.scalar_type());
    if (ctx->saved_data["weight_grad"].toBool()) weight_grad = g.t().mm(rows.reshape({-1, rows.size(-1)}).to(dtype));
    if (ctx->saved_data["bias_grad"].toBool()) bias_grad = g.sum(0);
    return {torch::Tensor(), rows_grad, torch::Tensor(), weight_grad, bias_grad};
  }
};

}  // namespace

torch::Tensor KeptRowsLinear(const torch::Tensor& values, const torch::Tensor& rows, const torch::Tensor& keep,
                             const torch::Tensor& weight, const torch::Tensor& bias) {
  return KeptRowsLinearFunction::apply(values, rows, keep, weight, bias);
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

bool MultiHeadAttentionImpl::Factored(int64_t num_queries, int64_t num_keys) const {
  // Multiply-adds per query row: the plain form projects every key and value (2 N d^2 for the batch row), the
  // factored one moves W_k and W_v onto the query side (2 Nq d^2) and then works at width d per head
  // (2 h Nq N d). FAS's Nq = 2 queries over 24 tokens: about 9x fewer.
  const int64_t d = num_heads_ * head_dim_;
  return num_queries * (d + num_heads_ * num_keys) < num_keys * d;
}

std::pair<torch::Tensor, torch::Tensor> MultiHeadAttentionImpl::forward(const torch::Tensor& query,
                                                                        const torch::Tensor& memory,
                                                                        const torch::Tensor& memory_mask) {
  const int64_t B = memory.size(0), Bq = query.size(0), Nq = query.size(1), N = memory.size(1);
  const int64_t h = num_heads_, hd = head_dim_, d = h * hd;
  const torch::Tensor mask = memory_mask.to(torch::kBool).view({B, 1, 1, N});
  const double scale = std::sqrt(static_cast<double>(hd));
  torch::Tensor w, out;
  if (!Factored(Nq, N)) {
    auto split = [&](const torch::Tensor& t, int64_t len) {
      return t.view({t.size(0), len, h, hd}).transpose(1, 2);  // [B, h, len, hd]
    };
    const torch::Tensor q = split(q_proj_(query), Nq);
    const torch::Tensor k = split(k_proj_(memory), N);
    const torch::Tensor v = split(v_proj_(memory), N);
    w = MaskedSoftmax(torch::matmul(q, k.transpose(-2, -1)) / scale, mask);
    out = torch::matmul(w, v).transpose(1, 2).reshape({B, Nq, d});
  } else {
    // The same attention with the key and value projections applied on the query side:
    //   q_h . (W_k,h m + b_k,h) = (W_k,h^T q_h) . m + q_h . b_k,h
    //   sum_j w_j (W_v,h m_j + b_v,h) = W_v,h (sum_j w_j m_j) + b_v,h sum_j w_j
    // (the q . b_k term is constant along the keys; it is kept so that b_k gets the gradient it gets otherwise).
    const torch::Tensor q = q_proj_(query).view({Bq * Nq, h, hd}).transpose(0, 1);  // [h, Bq Nq, hd]
    const torch::Tensor qk = torch::bmm(q, k_proj_->weight.view({h, hd, d}));       // [h, Bq Nq, d]
    const torch::Tensor qb = (q * k_proj_->bias.view({h, 1, hd})).sum(-1);          // [h, Bq Nq]
    const torch::Tensor qk_rows = qk.view({h, Bq, Nq, d}).permute({1, 0, 2, 3}).reshape({Bq, h * Nq, d});
    torch::Tensor scores;
    if (Bq == 1) {  // queries shared by the batch (FAS's learnable queries): one GEMM over every key
      scores = torch::mm(memory.reshape({B * N, d}), qk_rows[0].t()).view({B, N, h * Nq}).transpose(1, 2);
    } else {
      scores = torch::bmm(qk_rows, memory.transpose(1, 2));  // [B, h Nq, N]
    }
    scores = scores.view({B, h, Nq, N}) + qb.view({h, Bq, Nq, 1}).transpose(0, 1);
    w = MaskedSoftmax(scores / scale, mask);                                // [B, h, Nq, N]
    const torch::Tensor mixed = torch::bmm(w.view({B, h * Nq, N}), memory)  // [B, h Nq, d]
                                    .view({B, h, Nq, d})
                                    .permute({1, 0, 2, 3})
                                    .reshape({h, B * Nq, d});
    const torch::Tensor mass = w.sum(-1).permute({1, 0, 2}).reshape({h, B * Nq, 1});  // 1, or 0 if no key
    const torch::Tensor heads = torch::baddbmm(v_proj_->bias.view({h, 1, hd}) * mass, mixed,
                                               v_proj_->weight.view({h, hd, d}).transpose(1, 2));  // [h, B Nq, hd]
    out = heads.view({h, B, Nq, hd}).permute({1, 2, 0, 3}).reshape({B, Nq, d});
  }
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

#include "fas/encoders/kernels/head_parallel_attention.h"

#include <ATen/Parallel.h>

#include "fas/encoders/kernels.h"

namespace fas::kernels {

bool HeadParallelAttention::Applies(bool fast, const torch::Tensor& x) { return CpuInference(fast, x); }

torch::Tensor HeadParallelAttention::operator()(const AttentionProjections& p, FusedQkv& fused, const torch::Tensor& x,
                                                const AttentionBiases& biases) {
  const int64_t b = x.size(0), t = x.size(1), d = x.size(2), heads = p.heads, head_dim = p.head_dim();
  const bool onednn = OneDnnLinear::Applies(true, x);
  // [B, T, 3D], q pre-scaled
  const auto make = [&] { return FusedQkv::MakeWeight(p); };
  const auto qkv = onednn ? qkv_.Derived(x, make, fused.Bias(p), {p.q->weight, p.k->weight, p.v->weight}) : fused(p, x);
  const auto& gate = biases.gate;
  const auto& position = biases.position;
  const auto& mask = biases.mask;
  auto out = torch::empty({b, t, d}, x.options());
  at::parallel_for(0, b * heads, 1, [&](int64_t begin, int64_t end) {
    c10::InferenceMode guard;  // thread-local: the pool's threads do not inherit it
    auto scores = torch::empty({t, t}, x.options());
    for (int64_t i = begin; i < end; ++i) {
      const int64_t u = i / heads, h = i % heads;
      auto part = [&](int64_t which) { return qkv[u].narrow(1, which * d + h * head_dim, head_dim); };
      torch::mm_out(scores, part(0), part(1).t());
      if (position.defined()) scores.addcmul_(gate[u][h], position[h]);
      if (mask.defined()) scores.add_(mask[u][0]);
      at::softmax_out(scores, scores, -1);
      auto columns = out[u].narrow(1, h * head_dim, head_dim);
      torch::mm_out(columns, scores, part(2));
    }
  });
  return onednn ? out_(p.out, out) : torch::linear(out, p.out->weight, p.out->bias);
}

}  // namespace fas::kernels

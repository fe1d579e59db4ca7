// Route: q, k and v projected by one product instead of three (inference, any device).
#include "fas/encoders/kernels/attention.h"

#include <cmath>
#include <vector>

#include "fas/encoders/kernels/gpu_attention.h"

namespace fas::kernels {

double AttentionProjections::scale() const { return 1.0 / std::sqrt(static_cast<double>(head_dim())); }

torch::Tensor AddBiases(torch::Tensor scores, const AttentionBiases& biases) {
  if (biases.position.defined()) scores = scores + biases.gate * biases.position.unsqueeze(0);
  if (biases.mask.defined()) scores = scores + biases.mask;
  return scores;
}

torch::Tensor JoinBiases(const AttentionBiases& biases) {
  torch::Tensor out;
  if (biases.position.defined()) out = biases.gate * biases.position.unsqueeze(0);
  if (biases.mask.defined()) out = out.defined() ? out + biases.mask : biases.mask;
  return out;
}

torch::Tensor FusedQkv::MakeWeight(const AttentionProjections& p) {
  return torch::cat({p.q->weight * p.scale(), p.k->weight, p.v->weight});
}

const torch::Tensor& FusedQkv::Weight(const AttentionProjections& p) {
  return weight_.Get({p.q->weight, p.k->weight, p.v->weight}, [&] { return MakeWeight(p); });
}

const torch::Tensor& FusedQkv::Bias(const AttentionProjections& p) {
  // A key projection without a bias (Whisper's) contributes zeros.
  std::vector<torch::Tensor> sources{p.q->bias, p.v->bias};
  if (p.k->bias.defined()) sources.push_back(p.k->bias);
  return bias_.Get(sources, [&] {
    const torch::Tensor k = p.k->bias.defined() ? p.k->bias : torch::zeros_like(p.v->bias);
    return torch::cat({p.q->bias * p.scale(), k, p.v->bias});
  });
}

torch::Tensor FusedQkv::operator()(const AttentionProjections& p, const torch::Tensor& x) {
  return torch::linear(x, Weight(p), Bias(p));
}

torch::Tensor FusedQkvAttention::Run(const AttentionProjections& p, FusedQkv& qkv, const torch::Tensor& x,
                                     const AttentionBiases& biases) {
  const int64_t b = x.size(0), t = x.size(1), d = x.size(2);
  auto parts = qkv(p, x).view({b, t, 3, p.heads, p.head_dim()}).permute({2, 0, 3, 1, 4});
  if (GpuAttention::Applies(x)) {
    const auto out = GpuAttention::Run(parts[0], parts[1], parts[2], JoinBiases(biases), 1.0, 0.0);
    return torch::linear(out.transpose(1, 2).reshape({b, t, d}), p.out->weight, p.out->bias);
  }
  auto scores = AddBiases(torch::matmul(parts[0], parts[1].transpose(-2, -1)), biases);
  auto out = torch::matmul(torch::softmax(scores, -1), parts[2]).transpose(1, 2).reshape({b, t, d});
  return torch::linear(out, p.out->weight, p.out->bias);
}

}  // namespace fas::kernels

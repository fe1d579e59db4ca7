#include "fas/encoders/kernels/onednn_columns.h"

#include <algorithm>

namespace fas::kernels {

bool PackedLinear::Applies(bool fast, const torch::Tensor& x) {
  const int64_t rows = x.numel() / std::max<int64_t>(x.size(-1), 1);
  return fast && rows > 0 && rows <= kMaxRows && c10::InferenceMode::is_enabled() && at::hasMKLDNN() &&
         x.device().is_cpu() && x.scalar_type() == torch::kFloat32;
}

torch::Tensor PackedLinear::ToColumns(const torch::Tensor& x) {
  const int64_t in = x.size(-1), rows = x.numel() / in;
  return x.reshape({rows, in}).t().contiguous().view({1, in, 1, rows}).to_mkldnn();
}

torch::Tensor PackedLinear::FromColumns(const torch::Tensor& y, const torch::Tensor& like) {
  auto dense = y.is_mkldnn() ? y.to_dense() : y;
  auto sizes = like.sizes().vec();
  sizes.back() = dense.size(1);
  return dense.view({dense.size(1), dense.size(3)}).t().view(sizes);
}

torch::Tensor PackedLinear::Columns(const torch::Tensor& columns, const torch::Tensor& weight,
                                    const torch::Tensor& bias, const std::vector<torch::Tensor>& sources) {
  const auto& packed = packed_.Get(sources, [&] {
    return at::mkldnn_reorder_conv2d_weight(weight.reshape({weight.size(0), weight.size(1), 1, 1}).to_mkldnn(), {0, 0},
                                            {1, 1}, {1, 1}, 1);
  });
  return at::mkldnn_convolution(columns, packed, bias, {0, 0}, {1, 1}, {1, 1}, 1);
}

torch::Tensor PackedLinear::Columns(const torch::nn::Linear& layer, const torch::Tensor& columns) {
  return Columns(columns, layer->weight, layer->bias, {layer->weight});
}

torch::Tensor PackedLinear::operator()(const torch::nn::Linear& layer, const torch::Tensor& x) {
  return FromColumns(Columns(layer, ToColumns(x)), x).contiguous();
}

bool ColumnsFeedForward::Applies(bool fast, const torch::Tensor& x, const std::string& activation) {
  return PackedLinear::Applies(fast, x) && (activation == "gelu" || activation == "relu");
}

torch::Tensor ColumnsFeedForward::operator()(const torch::nn::Linear& intermediate, const torch::nn::Linear& output,
                                             const std::string& activation, const torch::Tensor& x) {
  auto h = intermediate_.Columns(intermediate, PackedLinear::ToColumns(x));
  h = activation == "gelu" ? torch::gelu(h) : torch::relu(h);
  return PackedLinear::FromColumns(output_.Columns(output, h), x);
}

torch::Tensor ColumnsAttention::operator()(const AttentionProjections& p, FusedQkv& fused, const torch::Tensor& x,
                                           const AttentionBiases& biases) {
  const int64_t b = x.size(0), t = x.size(1), d = x.size(2), heads = p.heads, head_dim = p.head_dim(), bh = b * heads;
  auto qkv =
      qkv_.Columns(PackedLinear::ToColumns(x), fused.Weight(p), fused.Bias(p), {p.q->weight, p.k->weight, p.v->weight})
          .to_dense()
          .view({3, heads, head_dim, b, t});
  auto part = [&](int64_t i) {  // [B * H, head_dim, T]
    return b == 1 ? qkv[i].view({bh, head_dim, t}) : qkv[i].permute({2, 0, 1, 3}).reshape({bh, head_dim, t});
  };
  const auto qt = part(0), kt = part(1), vt = part(2);
  auto scores = AddBiases(torch::bmm(qt.transpose(1, 2), kt).view({b, heads, t, t}), biases);
  auto probs = torch::softmax(scores, -1).view({bh, t, t});
  auto out_t = torch::bmm(vt, probs.transpose(1, 2));  // [B * H, head_dim, T]
  auto columns = b == 1 ? out_t.view({1, d, 1, t}) : out_t.view({b, d, t}).permute({1, 0, 2}).reshape({1, d, 1, b * t});
  return PackedLinear::FromColumns(out_.Columns(p.out, columns.to_mkldnn()), x);
}

}  // namespace fas::kernels

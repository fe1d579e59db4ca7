#include "head_base.h"

#include <algorithm>

namespace fas::fusion {

int64_t ClassifierHidden(const FusionConfig& c, int64_t in) {
  return c.classifier_hidden > 0 ? c.classifier_hidden : std::max<int64_t>(in / 2, 1);
}

int64_t MlpHidden(const FusionConfig& c) {
  return std::max<int64_t>(static_cast<int64_t>(c.mlp_ratio * c.d_model + 0.5), 1);
}

HeadBase::HeadBase(const HeadRequest& r)
    : name_(r.name), config_(r.config), acoustic_(r.streams.acoustic), semantic_(r.streams.semantic) {
  if (acoustic_) acoustic_proj_ = register_module("acoustic_proj", torch::nn::Linear(r.acoustic_dim, r.config.d_model));
  if (semantic_) semantic_proj_ = register_module("semantic_proj", torch::nn::Linear(r.semantic_dim, r.config.d_model));
}

Stream HeadBase::Acoustic(const FusionInput& in) {
  auto [x, m] = Patchify(in.acoustic, in.acoustic_mask, AcousticPatch(in));
  return {acoustic_proj_(x), m};
}

Stream HeadBase::Semantic(const FusionInput& in) {
  auto [x, m] = Patchify(in.semantic, in.semantic_mask, SemanticPatch(in));
  return {semantic_proj_(x), m};
}

torch::Tensor HeadBase::StreamIds(const torch::Tensor& mask, int64_t id) {
  return torch::full(mask.sizes(), id, torch::TensorOptions().dtype(torch::kLong).device(mask.device()))
      .masked_fill(~mask, -1);
}

torch::Tensor HeadBase::AcousticShare(const torch::Tensor& attention, const torch::Tensor& token_stream) {
  return (attention * (token_stream == 0).unsqueeze(1).to(attention.dtype())).sum(-1).mean(-1);
}

}  // namespace fas::fusion

// FAS: Top-K (or random) selection per stream, N_q learnable queries cross-attend the selected tokens.
#include "head_base.h"

namespace fas::fusion {

namespace {

class FasHead : public HeadBase {
 public:
  FasHead(const HeadRequest& r, bool random_select) : HeadBase(r), random_select_(random_select) {
    const FusionConfig& c = r.config;
    queries_ = register_parameter("queries", torch::randn({c.num_queries, c.d_model}) * 0.02);
    block_ = register_module("block", CrossAttentionBlock(c.d_model, c.num_heads, MlpHidden(c), c.dropout));
    const int64_t pooled = c.pooling == "flatten" ? int64_t{c.num_queries} * c.d_model : c.d_model;
    classifier_ =
        register_module("classifier", MakeClassifier(pooled, ClassifierHidden(c, pooled), r.num_classes, c.dropout));
  }

  FusionOutput Forward(const FusionInput& in) override {
    const TokenSelection sa =
        SelectProjected(in.acoustic, in.acoustic_mask, AcousticPatch(in), acoustic_proj_, config_.k_aco);
    const TokenSelection ss =
        SelectProjected(in.semantic, in.semantic_mask, SemanticPatch(in), semantic_proj_, config_.k_sem);
    const torch::Tensor tokens = torch::cat({sa.tokens, ss.tokens}, 1);
    const torch::Tensor mask = torch::cat({sa.mask, ss.mask}, 1);
    const torch::Tensor stream = torch::cat({StreamIds(sa.mask, 0), StreamIds(ss.mask, 1)}, 1);
    // The queries are the same for every row: the block takes them once (batch 1) and broadcasts.
    auto [h, attention] = block_(queries_.unsqueeze(0), tokens, mask);
    const torch::Tensor pooled = config_.pooling == "flatten" ? h.flatten(1) : h.mean(1);
    return {classifier_->forward(pooled), attention, stream, AcousticShare(attention, stream)};
  }

 private:
  TokenSelection Select(const Stream& s, int64_t k) const {
    if (!random_select_) return TopKByEnergy(s.tokens, s.mask, k);
    return SelectTokens(s.tokens, s.mask, RandomSelectionScores(s.mask, k, is_training()), k);
  }

  // Patchify, project, select. Top-K ranks the projected patches, so all of them are projected, but only the k
  // kept ones reach the loss: the projection's weight gradient, and the patches' own gradient when they come out
  // of something trained (the acoustic layer mix), are computed from the kept patches' rows alone (k of P rows:
  // 8 of 30 and 16 of 30 at the paper's settings) instead of from every row, most of them multiplied by a zero
  // gradient.
  TokenSelection SelectProjected(const torch::Tensor& x, const torch::Tensor& mask, int64_t s, torch::nn::Linear& proj,
                                 int64_t k) {
    auto [patches, m] = Patchify(x, mask, s);
    if (config_.energy == "raw" && !random_select_) {
      // Ranked before the projection: only the kept patches are projected (k of P rows), empty slots stay zero.
      const TokenSelection raw = TopKByEnergy(patches, m, k);
      return {proj(raw.tokens) * raw.mask.unsqueeze(-1).to(patches.scalar_type()), raw.mask, raw.index};
    }
    if (!torch::GradMode::is_enabled() || !proj->weight.requires_grad() || !proj->bias.requires_grad()) {
      return Select({proj(patches), m}, k);
    }
    TokenSelection sel;
    {
      torch::NoGradGuard no_grad;
      sel = Select({proj(patches), m}, k);
    }
    sel.tokens = KeptRowsLinear(sel.tokens, GatherRows(patches, sel.index), sel.mask, proj->weight, proj->bias);
    return sel;
  }

  bool random_select_;
  torch::Tensor queries_;
  CrossAttentionBlock block_{nullptr};
  torch::nn::Sequential classifier_{nullptr};
};

}  // namespace

std::shared_ptr<FusionHeadImpl> MakeFasHead(const HeadRequest& r) { return std::make_shared<FasHead>(r, false); }

std::shared_ptr<FusionHeadImpl> MakeFasRandomSelectHead(const HeadRequest& r) {
  return std::make_shared<FasHead>(r, true);
}

}  // namespace fas::fusion

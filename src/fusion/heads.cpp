// FAS and the baseline / ablation heads. Every head patchifies and projects its streams the same way, so the
// comparison between heads isolates the fusion itself.
#include <algorithm>

#include "blocks.h"
#include "fas/core/error.h"
#include "fas/fusion/fusion.h"

namespace fas {

namespace {

using fusion::AttentivePooling;
using fusion::CrossAttentionBlock;
using fusion::MaskedMean;

int64_t ClassifierHidden(const FusionConfig& c, int64_t in) {
  return c.classifier_hidden > 0 ? c.classifier_hidden : std::max<int64_t>(in / 2, 1);
}

int64_t MlpHidden(const FusionConfig& c) {
  return std::max<int64_t>(static_cast<int64_t>(c.mlp_ratio * c.d_model + 0.5), 1);
}

// Patchify a stream with window s, then project it to d.
struct Stream {
  torch::Tensor tokens;  // [B, P, d]
  torch::Tensor mask;    // [B, P] bool
};

class HeadBase : public FusionHeadImpl {
 public:
  HeadBase(std::string name, const FusionConfig& c, int64_t acoustic_dim, int64_t semantic_dim, bool acoustic,
           bool semantic)
      : name_(std::move(name)), config_(c), acoustic_(acoustic), semantic_(semantic) {
    if (acoustic) acoustic_proj_ = register_module("acoustic_proj", torch::nn::Linear(acoustic_dim, c.d_model));
    if (semantic) semantic_proj_ = register_module("semantic_proj", torch::nn::Linear(semantic_dim, c.d_model));
  }
  const std::string& name() const override { return name_; }
  bool uses_acoustic() const override { return acoustic_; }
  bool uses_semantic() const override { return semantic_; }

 protected:
  Stream Acoustic(const FusionInput& in) {
    auto [x, m] = Patchify(in.acoustic, in.acoustic_mask, config_.patch_aco);
    return {acoustic_proj_(x), m};
  }
  Stream Semantic(const FusionInput& in) {
    auto [x, m] = Patchify(in.semantic, in.semantic_mask, config_.patch_sem);
    return {semantic_proj_(x), m};
  }
  static torch::Tensor StreamIds(const torch::Tensor& mask, int64_t id) {
    return torch::full(mask.sizes(), id, torch::TensorOptions().dtype(torch::kLong)).masked_fill(~mask, -1);
  }
  static torch::Tensor AcousticShare(const torch::Tensor& attention, const torch::Tensor& token_stream) {
    // attention [B, Nq, N]: mass on acoustic tokens, averaged over queries.
    return (attention * (token_stream == 0).unsqueeze(1).to(attention.dtype())).sum(-1).mean(-1);
  }

  std::string name_;
  FusionConfig config_;
  bool acoustic_, semantic_;
  torch::nn::Linear acoustic_proj_{nullptr}, semantic_proj_{nullptr};
};

// FAS: Top-K (or random) selection per stream, N_q learnable queries cross-attend the selected tokens.
class FasHead : public HeadBase {
 public:
  FasHead(std::string name, const FusionConfig& c, int64_t da, int64_t ds, int64_t classes, bool random_select)
      : HeadBase(std::move(name), c, da, ds, true, true), random_select_(random_select) {
    queries_ = register_parameter("queries", torch::randn({c.num_queries, c.d_model}) * 0.02);
    block_ = register_module("block", CrossAttentionBlock(c.d_model, c.num_heads, MlpHidden(c), c.dropout));
    const int64_t pooled = c.pooling == "flatten" ? int64_t{c.num_queries} * c.d_model : c.d_model;
    classifier_ = register_module("classifier",
                                  fusion::MakeClassifier(pooled, ClassifierHidden(c, pooled), classes, c.dropout));
  }

  FusionOutput Forward(const FusionInput& in) override {
    const TokenSelection sa =
        SelectProjected(in.acoustic, in.acoustic_mask, config_.patch_aco, acoustic_proj_, config_.k_aco);
    const TokenSelection ss =
        SelectProjected(in.semantic, in.semantic_mask, config_.patch_sem, semantic_proj_, config_.k_sem);
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
  // kept ones reach the loss: when the features are constants (cached, or a frozen encoder's), the projection's
  // weight gradient is computed from the kept patches' rows alone (k of P rows: 8 of 30 and 16 of 30 at the
  // paper's settings) instead of from every row, most of them multiplied by a zero gradient.
  TokenSelection SelectProjected(const torch::Tensor& x, const torch::Tensor& mask, int64_t s, torch::nn::Linear& proj,
                                 int64_t k) {
    auto [patches, m] = Patchify(x, mask, s);
    if (!torch::GradMode::is_enabled() || patches.requires_grad() || !proj->weight.requires_grad() ||
        !proj->bias.requires_grad()) {
      return Select({proj(patches), m}, k);
    }
    TokenSelection sel;
    {
      torch::NoGradGuard no_grad;
      sel = Select({proj(patches), m}, k);
    }
    sel.tokens = fusion::KeptRowsLinear(sel.tokens, GatherRows(patches, sel.index), sel.mask, proj->weight, proj->bias);
    return sel;
  }

  bool random_select_;
  torch::Tensor queries_;
  CrossAttentionBlock block_{nullptr};
  torch::nn::Sequential classifier_{nullptr};
};

// Ablation without learnable queries: one attention pooling over every token of both streams.
class FullAttentionHead : public HeadBase {
 public:
  FullAttentionHead(const FusionConfig& c, int64_t da, int64_t ds, int64_t classes)
      : HeadBase("fas_full_attention", c, da, ds, true, true) {
    pool_ = register_module("pool", AttentivePooling(c.d_model));
    classifier_ = register_module(
        "classifier", fusion::MakeClassifier(c.d_model, ClassifierHidden(c, c.d_model), classes, c.dropout));
  }
  FusionOutput Forward(const FusionInput& in) override {
    const Stream a = Acoustic(in), s = Semantic(in);
    const torch::Tensor tokens = torch::cat({a.tokens, s.tokens}, 1);
    const torch::Tensor mask = torch::cat({a.mask, s.mask}, 1);
    const torch::Tensor stream = torch::cat({StreamIds(a.mask, 0), StreamIds(s.mask, 1)}, 1);
    auto [pooled, w] = pool_(tokens, mask);
    const torch::Tensor attention = w.unsqueeze(1);
    return {classifier_->forward(pooled), attention, stream, AcousticShare(attention, stream)};
  }

 private:
  AttentivePooling pool_{nullptr};
  torch::nn::Sequential classifier_{nullptr};
};

// One pathway only (acoustic_only, or semantic_only: the ASR-text baseline), attentive or mean pooling.
class SingleStreamHead : public HeadBase {
 public:
  SingleStreamHead(const FusionConfig& c, int64_t da, int64_t ds, int64_t classes, bool acoustic)
      : HeadBase(acoustic ? "acoustic_only" : "semantic_only", c, da, ds, acoustic, !acoustic) {
    if (c.single_stream_pooling == "attentive") pool_ = register_module("pool", AttentivePooling(c.d_model));
    classifier_ = register_module(
        "classifier", fusion::MakeClassifier(c.d_model, ClassifierHidden(c, c.d_model), classes, c.dropout));
  }
  FusionOutput Forward(const FusionInput& in) override {
    const Stream s = acoustic_ ? Acoustic(in) : Semantic(in);
    const int64_t id = acoustic_ ? 0 : 1;
    FusionOutput out;
    torch::Tensor pooled;
    if (pool_) {
      auto [p, w] = pool_(s.tokens, s.mask);
      pooled = p;
      out.attention = w.unsqueeze(1);
      out.token_stream = StreamIds(s.mask, id);
    } else {
      pooled = MaskedMean(s.tokens, s.mask);
    }
    out.logits = classifier_->forward(pooled);
    out.acoustic_share = torch::full({pooled.size(0)}, acoustic_ ? 1.0 : 0.0, pooled.options());
    return out;
  }

 private:
  AttentivePooling pool_{nullptr};
  torch::nn::Sequential classifier_{nullptr};
};

// Late fusion: mean-pooled streams, concatenated (concat) or mixed by a learned sigmoid gate (gated).
class PooledFusionHead : public HeadBase {
 public:
  PooledFusionHead(const FusionConfig& c, int64_t da, int64_t ds, int64_t classes, bool gated)
      : HeadBase(gated ? "gated" : "concat", c, da, ds, true, true), gated_(gated) {
    if (gated) gate_ = register_module("gate", torch::nn::Linear(2 * c.d_model, c.d_model));
    const int64_t in = gated ? c.d_model : 2 * c.d_model;
    classifier_ = register_module("classifier", fusion::MakeClassifier(in, ClassifierHidden(c, in), classes, c.dropout));
  }
  FusionOutput Forward(const FusionInput& in) override {
    const Stream a = Acoustic(in), s = Semantic(in);
    const torch::Tensor pa = MaskedMean(a.tokens, a.mask), ps = MaskedMean(s.tokens, s.mask);
    FusionOutput out;
    if (!gated_) {
      out.logits = classifier_->forward(torch::cat({pa, ps}, -1));
      return out;
    }
    const torch::Tensor g = torch::sigmoid(gate_(torch::cat({pa, ps}, -1)));
    out.logits = classifier_->forward(g * pa + (1 - g) * ps);
    out.acoustic_share = g.mean(-1);
    return out;
  }

 private:
  bool gated_;
  torch::nn::Linear gate_{nullptr};
  torch::nn::Sequential classifier_{nullptr};
};

// Entangled fusion: every acoustic token attends the semantic tokens directly, then mean pooling.
class CrossAttentionHead : public HeadBase {
 public:
  CrossAttentionHead(const FusionConfig& c, int64_t da, int64_t ds, int64_t classes)
      : HeadBase("cross_attention", c, da, ds, true, true) {
    block_ = register_module("block", CrossAttentionBlock(c.d_model, c.num_heads, MlpHidden(c), c.dropout));
    classifier_ = register_module(
        "classifier", fusion::MakeClassifier(c.d_model, ClassifierHidden(c, c.d_model), classes, c.dropout));
  }
  FusionOutput Forward(const FusionInput& in) override {
    const Stream a = Acoustic(in), s = Semantic(in);
    const torch::Tensor h = std::get<0>(block_(a.tokens, s.tokens, s.mask));
    FusionOutput out;
    out.logits = classifier_->forward(MaskedMean(h, a.mask));
    return out;
  }

 private:
  CrossAttentionBlock block_{nullptr};
  torch::nn::Sequential classifier_{nullptr};
};

void Require(bool ok, const std::string& key, const std::string& what) {
  if (!ok) throw ConfigError("model.fusion." + key + ": " + what);
}

}  // namespace

void FusionConfig::Validate() const {
  Require(d_model > 0, "d_model", "must be positive, got " + std::to_string(d_model));
  Require(num_heads > 0 && d_model % num_heads == 0, "num_heads",
          "must divide d_model (" + std::to_string(d_model) + "), got " + std::to_string(num_heads));
  Require(patch_aco >= 1, "patch_aco", "must be >= 1, got " + std::to_string(patch_aco));
  Require(patch_sem >= 1, "patch_sem", "must be >= 1, got " + std::to_string(patch_sem));
  Require(k_aco >= 1, "k_aco", "must be >= 1, got " + std::to_string(k_aco));
  Require(k_sem >= 1, "k_sem", "must be >= 1, got " + std::to_string(k_sem));
  Require(num_queries >= 1, "num_queries", "must be >= 1, got " + std::to_string(num_queries));
  Require(mlp_ratio > 0, "mlp_ratio", "must be positive");
  Require(dropout >= 0 && dropout < 1, "dropout", "must be in [0, 1), got " + std::to_string(dropout));
  Require(pooling == "flatten" || pooling == "mean", "pooling", "must be flatten or mean, got '" + pooling + "'");
  Require(single_stream_pooling == "attentive" || single_stream_pooling == "mean", "single_stream_pooling",
          "must be attentive or mean, got '" + single_stream_pooling + "'");
  Require(classifier_hidden >= 0, "classifier_hidden", "must be >= 0 (0 = half the input width)");
}

const std::vector<std::string>& FusionHeadNames() {
  static const std::vector<std::string> names = {"fas",    "acoustic_only",     "semantic_only",
                                                 "concat", "gated",             "fas_random_select",
                                                 "fas_full_attention", "cross_attention"};
  return names;
}

HeadStreams FusionHeadStreams(const std::string& name) {
  const auto& names = FusionHeadNames();
  if (std::find(names.begin(), names.end(), name) == names.end()) {
    std::string known;
    for (const auto& n : names) known += (known.empty() ? "" : ", ") + n;
    throw ConfigError("model.head: unknown fusion head '" + name + "' (known: " + known + ")");
  }
  return {name != "semantic_only", name != "acoustic_only"};
}

std::shared_ptr<FusionHeadImpl> MakeFusionHead(const std::string& name, const FusionConfig& c, int64_t da,
                                               int64_t ds, int64_t classes) {
  c.Validate();
  if (classes < 1) throw ConfigError("a fusion head needs at least one class");
  if (name == "fas") return std::make_shared<FasHead>(name, c, da, ds, classes, false);
  if (name == "fas_random_select") return std::make_shared<FasHead>(name, c, da, ds, classes, true);
  if (name == "fas_full_attention") return std::make_shared<FullAttentionHead>(c, da, ds, classes);
  if (name == "acoustic_only") return std::make_shared<SingleStreamHead>(c, da, ds, classes, true);
  if (name == "semantic_only") return std::make_shared<SingleStreamHead>(c, da, ds, classes, false);
  if (name == "concat") return std::make_shared<PooledFusionHead>(c, da, ds, classes, false);
  if (name == "gated") return std::make_shared<PooledFusionHead>(c, da, ds, classes, true);
  if (name == "cross_attention") return std::make_shared<CrossAttentionHead>(c, da, ds, classes);
  FusionHeadStreams(name);  // throws, naming the known heads
  throw ConfigError("model.head: no constructor for head '" + name + "'");
}

int64_t CountTrainableParameters(const torch::nn::Module& module) {
  int64_t n = 0;
  for (const auto& p : module.parameters()) {
    if (p.requires_grad()) n += p.numel();
  }
  return n;
}

}  // namespace fas

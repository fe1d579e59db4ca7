// One pathway only (acoustic_only, or semantic_only: the ASR-text baseline), attentive or mean pooling. The
// registry's request names the pathway.
#include "head_base.h"

namespace fas::fusion {

namespace {

class SingleStreamHead : public HeadBase {
 public:
  explicit SingleStreamHead(const HeadRequest& r) : HeadBase(r) {
    const FusionConfig& c = r.config;
    if (c.single_stream_pooling == "attentive") pool_ = register_module("pool", AttentivePooling(c.d_model));
    classifier_ = register_module("classifier",
                                  MakeClassifier(c.d_model, ClassifierHidden(c, c.d_model), r.num_classes, c.dropout));
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

}  // namespace

std::shared_ptr<FusionHeadImpl> MakeSingleStreamHead(const HeadRequest& r) {
  return std::make_shared<SingleStreamHead>(r);
}

}  // namespace fas::fusion

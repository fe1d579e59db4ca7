// Entangled fusion: every acoustic token attends the semantic tokens directly, then mean pooling.
#include "head_base.h"

namespace fas::fusion {

namespace {

class CrossAttentionHead : public HeadBase {
 public:
  explicit CrossAttentionHead(const HeadRequest& r) : HeadBase(r) {
    const FusionConfig& c = r.config;
    block_ = register_module("block", CrossAttentionBlock(c.d_model, c.num_heads, MlpHidden(c), c.dropout));
    classifier_ = register_module("classifier",
                                  MakeClassifier(c.d_model, ClassifierHidden(c, c.d_model), r.num_classes, c.dropout));
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

}  // namespace

std::shared_ptr<FusionHeadImpl> MakeCrossAttentionHead(const HeadRequest& r) {
  return std::make_shared<CrossAttentionHead>(r);
}

}  // namespace fas::fusion

// Feature-level fusion of the mean-pooled streams: concatenated (concat) or mixed by a learned sigmoid gate (gated).
#include "head_base.h"

namespace fas::fusion {

namespace {

class PooledFusionHead : public HeadBase {
 public:
  PooledFusionHead(const HeadRequest& r, bool gated) : HeadBase(r), gated_(gated) {
    const FusionConfig& c = r.config;
    if (gated) gate_ = register_module("gate", torch::nn::Linear(2 * c.d_model, c.d_model));
    const int64_t in = gated ? c.d_model : 2 * c.d_model;
    classifier_ = register_module("classifier", MakeClassifier(in, ClassifierHidden(c, in), r.num_classes, c.dropout));
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

}  // namespace

std::shared_ptr<FusionHeadImpl> MakeConcatHead(const HeadRequest& r) {
  return std::make_shared<PooledFusionHead>(r, false);
}

std::shared_ptr<FusionHeadImpl> MakeGatedHead(const HeadRequest& r) {
  return std::make_shared<PooledFusionHead>(r, true);
}

}  // namespace fas::fusion

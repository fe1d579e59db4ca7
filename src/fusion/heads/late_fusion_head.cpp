// Decision-level fusion: each stream, mean-pooled, has its own classifier, and the two logit vectors are mixed by
// learned stream weights (a softmax over two scores). The scores start equal, so the head starts as the plain
// average of the two classifiers and learns how far to trust each stream; the acoustic weight is the head's
// acoustic share.
#include "head_base.h"

namespace fas::fusion {

namespace {

class LateFusionHead : public HeadBase {
 public:
  explicit LateFusionHead(const HeadRequest& r) : HeadBase(r) {
    const FusionConfig& c = r.config;
    const int64_t hidden = ClassifierHidden(c, c.d_model);
    acoustic_classifier_ =
        register_module("acoustic_classifier", MakeClassifier(c.d_model, hidden, r.num_classes, c.dropout));
    semantic_classifier_ =
        register_module("semantic_classifier", MakeClassifier(c.d_model, hidden, r.num_classes, c.dropout));
    stream_scores_ = register_parameter("stream_scores", torch::zeros({2}));
  }
  FusionOutput Forward(const FusionInput& in) override {
    const Stream a = Acoustic(in), s = Semantic(in);
    const torch::Tensor la = acoustic_classifier_->forward(MaskedMean(a.tokens, a.mask));
    const torch::Tensor ls = semantic_classifier_->forward(MaskedMean(s.tokens, s.mask));
    const torch::Tensor w = stream_scores_.softmax(0);
    FusionOutput out;
    out.logits = w[0] * la + w[1] * ls;
    out.acoustic_share = w[0].expand({la.size(0)});
    return out;
  }

 private:
  torch::nn::Sequential acoustic_classifier_{nullptr}, semantic_classifier_{nullptr};
  torch::Tensor stream_scores_;
};

}  // namespace

std::shared_ptr<FusionHeadImpl> MakeLateFusionHead(const HeadRequest& r) { return std::make_shared<LateFusionHead>(r); }

}  // namespace fas::fusion

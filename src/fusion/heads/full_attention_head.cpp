// Ablation of FAS without learnable queries: one attention pooling over every token of both streams.
#include "head_base.h"

namespace fas::fusion {

namespace {

class FullAttentionHead : public HeadBase {
 public:
  explicit FullAttentionHead(const HeadRequest& r) : HeadBase(r) {
    const FusionConfig& c = r.config;
    pool_ = register_module("pool", AttentivePooling(c.d_model));
    classifier_ = register_module("classifier",
                                  MakeClassifier(c.d_model, ClassifierHidden(c, c.d_model), r.num_classes, c.dropout));
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

}  // namespace

std::shared_ptr<FusionHeadImpl> MakeFullAttentionHead(const HeadRequest& r) {
  return std::make_shared<FullAttentionHead>(r);
}

}  // namespace fas::fusion

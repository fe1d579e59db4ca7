// late_fusion: each stream's masked mean has its own classifier; the logits are mixed by learned stream weights.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <algorithm>
#include <cmath>
#include <vector>

#include "fas/fusion/fusion.h"

namespace {

constexpr int64_t kAcousticDim = 5, kSemanticDim = 9, kClasses = 4;

fas::FusionConfig Config() { return {.d_model = 8, .patch_aco = 3, .patch_sem = 1, .num_heads = 2}; }

std::shared_ptr<fas::FusionHeadImpl> LateFusionHead() {
  return fas::MakeFusionHead("late_fusion", Config(), kAcousticDim, kSemanticDim, kClasses);
}

struct Utterance {
  torch::Tensor acoustic;  // [Ta, kAcousticDim]
  torch::Tensor semantic;  // [Ts, kSemanticDim]
};

std::vector<Utterance> Utterances() {
  torch::manual_seed(0);
  return {{torch::randn({13, kAcousticDim}), torch::randn({4, kSemanticDim})},
          {torch::randn({7, kAcousticDim}), torch::randn({11, kSemanticDim})},
          {torch::randn({2, kAcousticDim}), torch::randn({1, kSemanticDim})}};
}

// The utterances as one batch, each stream padded to its longest with `fill`.
fas::FusionInput Padded(const std::vector<Utterance>& utterances, double fill) {
  const auto n = static_cast<int64_t>(utterances.size());
  int64_t ta = 0, ts = 0;
  for (const auto& u : utterances) {
    ta = std::max(ta, u.acoustic.size(0));
    ts = std::max(ts, u.semantic.size(0));
  }
  fas::FusionInput in{torch::full({n, ta, kAcousticDim}, fill), torch::zeros({n, ta}, torch::kBool),
                      torch::full({n, ts, kSemanticDim}, fill), torch::zeros({n, ts}, torch::kBool)};
  for (int64_t i = 0; i < n; ++i) {
    const Utterance& u = utterances[static_cast<size_t>(i)];
    in.acoustic[i].narrow(0, 0, u.acoustic.size(0)).copy_(u.acoustic);
    in.acoustic_mask[i].narrow(0, 0, u.acoustic.size(0)).fill_(true);
    in.semantic[i].narrow(0, 0, u.semantic.size(0)).copy_(u.semantic);
    in.semantic_mask[i].narrow(0, 0, u.semantic.size(0)).fill_(true);
  }
  return in;
}

TEST(LateFusion, IsRegisteredAndReadsBothStreams) {
  const auto& names = fas::FusionHeadNames();
  EXPECT_NE(std::find(names.begin(), names.end(), "late_fusion"), names.end());
  EXPECT_TRUE(fas::FusionHeadStreams("late_fusion").acoustic && fas::FusionHeadStreams("late_fusion").semantic);
  auto head = LateFusionHead();
  EXPECT_EQ(head->name(), "late_fusion");
  EXPECT_TRUE(head->uses_acoustic() && head->uses_semantic());
}

TEST(LateFusion, MixesTheTwoStreamClassifiersByTheStreamWeights) {
  auto head = LateFusionHead();
  head->eval();
  const fas::FusionInput in = Padded(Utterances(), 0);
  auto p = head->named_parameters();
  namespace F = torch::nn::functional;
  auto linear = [&](const torch::Tensor& x, const std::string& name) {
    return F::linear(x, p[name + ".weight"], p[name + ".bias"]);
  };
  // Each stream written out: patchify, project, mean over the valid patches, classifier.
  auto stream_logits = [&](const torch::Tensor& x, const torch::Tensor& mask, int64_t s, const std::string& stream) {
    auto [patches, valid] = fas::Patchify(x, mask, s);
    const torch::Tensor weight = valid.to(torch::kFloat).unsqueeze(-1);
    const torch::Tensor mean = (linear(patches, stream + "_proj") * weight).sum(1) / weight.sum(1);
    return linear(F::gelu(linear(mean, stream + "_classifier.0")), stream + "_classifier.3");
  };
  const torch::Tensor acoustic = stream_logits(in.acoustic, in.acoustic_mask, Config().patch_aco, "acoustic");
  const torch::Tensor semantic = stream_logits(in.semantic, in.semantic_mask, Config().patch_sem, "semantic");

  fas::FusionOutput out = head->Forward(in);
  ASSERT_EQ(out.logits.sizes(), (std::vector<int64_t>{3, kClasses}));
  EXPECT_FALSE(out.attention.defined());
  EXPECT_TRUE(torch::allclose(out.logits, 0.5 * acoustic + 0.5 * semantic, 1e-5, 1e-6));
  EXPECT_TRUE(torch::allclose(out.acoustic_share, torch::full({3}, 0.5)));

  {
    torch::NoGradGuard no_grad;
    p["stream_scores"].copy_(torch::tensor({std::log(3.0), 0.0}));
  }
  out = head->Forward(in);
  EXPECT_TRUE(torch::allclose(out.logits, 0.75 * acoustic + 0.25 * semantic, 1e-5, 1e-6));
  EXPECT_TRUE(torch::allclose(out.acoustic_share, torch::full({3}, 0.75)));
}

TEST(LateFusion, PaddingDoesNotChangeAnUtterancesLogits) {
  auto head = LateFusionHead();
  head->eval();
  const std::vector<Utterance> utterances = Utterances();
  const torch::Tensor batch = head->Forward(Padded(utterances, 1e3)).logits;
  for (size_t i = 0; i < utterances.size(); ++i) {
    SCOPED_TRACE(i);
    const torch::Tensor alone = head->Forward(Padded({utterances[i]}, 0)).logits[0];
    EXPECT_TRUE(torch::allclose(batch[static_cast<int64_t>(i)], alone, 1e-5, 1e-6));
  }
}

TEST(LateFusion, GradientsReachBothStreamsAndTheStreamWeights) {
  auto head = LateFusionHead();
  head->train();
  fas::FusionInput in = Padded(Utterances(), 0);
  in.acoustic.requires_grad_(true);
  in.semantic.requires_grad_(true);
  torch::nn::functional::cross_entropy(head->Forward(in).logits, torch::tensor({0, 1, 3}, torch::kLong)).backward();
  for (const auto& p : head->named_parameters()) {
    ASSERT_TRUE(p.value().grad().defined()) << p.key();
    EXPECT_GT(p.value().grad().abs().sum().item<double>(), 0) << p.key();
  }
  // Every valid frame and token gets a gradient, and no padded one does.
  for (const auto& [x, mask] : {std::pair{in.acoustic, in.acoustic_mask}, std::pair{in.semantic, in.semantic_mask}}) {
    const torch::Tensor moved = x.grad().abs().sum(-1) > 0;
    EXPECT_TRUE(torch::equal(moved, mask));
  }
}

}  // namespace

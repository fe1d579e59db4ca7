#include <gtest/gtest.h>
#include <torch/torch.h>

#include "fas/core/error.h"
#include "fas/fusion/fusion.h"

namespace {

// Tokens whose L2 norm is their position's value in `norms` (one non-zero coordinate).
torch::Tensor TokensWithNorms(const std::vector<std::vector<float>>& norms, int64_t dim = 3) {
  const int64_t B = norms.size(), N = norms[0].size();
  torch::Tensor t = torch::zeros({B, N, dim});
  for (int64_t b = 0; b < B; ++b) {
    for (int64_t i = 0; i < N; ++i) t[b][i][i % dim] = norms[b][i];
  }
  return t;
}

std::vector<int64_t> Row(const torch::Tensor& t, int64_t b) {
  const torch::Tensor r = t[b].to(torch::kLong).contiguous();
  return {r.data_ptr<int64_t>(), r.data_ptr<int64_t>() + r.numel()};
}

TEST(TopK, KeepsHighestEnergyInTimeOrder) {
  const auto x = TokensWithNorms({{1, 5, 2, 7, 3, 6}});
  const auto sel = fas::TopKByEnergy(x, torch::ones({1, 6}, torch::kBool), 3);
  EXPECT_EQ(Row(sel.index, 0), (std::vector<int64_t>{1, 3, 5}));
  EXPECT_EQ(Row(sel.mask, 0), (std::vector<int64_t>{1, 1, 1}));
  EXPECT_FLOAT_EQ(sel.tokens[0][1].norm().item<float>(), 7);
}

TEST(TopK, NeverSelectsPaddingEvenWithHighEnergy) {
  // Position 4 and 5 are padding with the largest norms.
  const auto x = TokensWithNorms({{1, 5, 2, 3, 90, 80}});
  const auto mask = torch::tensor({{1, 1, 1, 1, 0, 0}}).to(torch::kBool);
  const auto sel = fas::TopKByEnergy(x, mask, 2);
  EXPECT_EQ(Row(sel.index, 0), (std::vector<int64_t>{1, 3}));
}

TEST(TopK, ShortRowsLeaveEmptySlotsMasked) {
  // Row 0 has 2 valid tokens, row 1 has 4; k = 3; the sequence itself (N = 4) is longer than k.
  const auto x = TokensWithNorms({{4, 2, 9, 9}, {1, 2, 3, 4}});
  const auto mask = torch::tensor({{1, 1, 0, 0}, {1, 1, 1, 1}}).to(torch::kBool);
  const auto sel = fas::TopKByEnergy(x, mask, 3);
  EXPECT_EQ(Row(sel.mask, 0), (std::vector<int64_t>{1, 1, 0}));
  EXPECT_EQ(Row(sel.index, 0), (std::vector<int64_t>{0, 1, 0}));
  EXPECT_EQ(sel.tokens[0][2].abs().sum().item<float>(), 0);
  EXPECT_EQ(Row(sel.index, 1), (std::vector<int64_t>{1, 2, 3}));
}

TEST(TopK, SequenceShorterThanKIsPaddedToK) {
  const auto x = TokensWithNorms({{3, 1}});
  const auto sel = fas::TopKByEnergy(x, torch::ones({1, 2}, torch::kBool), 5);
  EXPECT_EQ(sel.tokens.sizes(), (std::vector<int64_t>{1, 5, 3}));
  EXPECT_EQ(Row(sel.mask, 0), (std::vector<int64_t>{1, 1, 0, 0, 0}));
}

TEST(TopK, GradientFlowsOnlyToSelectedTokens) {
  auto x = TokensWithNorms({{1, 5, 2, 7}}).requires_grad_(true);
  fas::TopKByEnergy(x, torch::ones({1, 4}, torch::kBool), 2).tokens.sum().backward();
  const auto g = x.grad().abs().sum(-1);
  EXPECT_EQ(Row(g > 0, 0), (std::vector<int64_t>{0, 1, 0, 1}));
}

TEST(TopK, RejectsNonPositiveK) {
  EXPECT_THROW(fas::TopKByEnergy(torch::zeros({1, 2, 2}), torch::ones({1, 2}, torch::kBool), 0), fas::ConfigError);
}

TEST(RandomSelect, EvalIsDeterministicEvenlySpacedAndRespectsMask) {
  const auto mask = torch::tensor({{1, 1, 1, 1, 1, 1, 1, 1, 0, 0}}).to(torch::kBool);
  const auto scores = fas::RandomSelectionScores(mask, 4, /*training=*/false);
  const auto x = torch::randn({1, 10, 2});
  const auto sel = fas::SelectTokens(x, mask, scores, 4);
  EXPECT_EQ(Row(sel.index, 0), (std::vector<int64_t>{1, 3, 5, 7}));  // floor((j + .5) * 8 / 4)
  EXPECT_TRUE(torch::equal(scores, fas::RandomSelectionScores(mask, 4, false)));
}

TEST(RandomSelect, TrainingPicksVaryButStayInsideTheMask) {
  torch::manual_seed(3);
  const auto mask = torch::tensor({{1, 1, 1, 1, 1, 1, 0, 0}}).to(torch::kBool);
  std::set<std::vector<int64_t>> seen;
  for (int i = 0; i < 20; ++i) {
    const auto sel = fas::SelectTokens(torch::randn({1, 8, 2}), mask, fas::RandomSelectionScores(mask, 2, true), 2);
    const auto idx = Row(sel.index, 0);
    for (auto j : idx) EXPECT_LT(j, 6);
    seen.insert(idx);
  }
  EXPECT_GT(seen.size(), 3u);
}

TEST(Patchify, AveragesValidFramesOnlyAndPoolsTheMask) {
  // T = 7, s = 3: windows [0..2], [3..5], [6]; valid frames 0..3.
  const auto x = torch::arange(7, torch::kFloat).view({1, 7, 1});
  const auto mask = torch::tensor({{1, 1, 1, 1, 0, 0, 0}}).to(torch::kBool);
  auto [p, m] = fas::Patchify(x, mask, 3);
  ASSERT_EQ(p.sizes(), (std::vector<int64_t>{1, 3, 1}));
  EXPECT_FLOAT_EQ(p[0][0][0].item<float>(), 1.0f);  // mean(0, 1, 2)
  EXPECT_FLOAT_EQ(p[0][1][0].item<float>(), 3.0f);  // only frame 3 is valid
  EXPECT_FLOAT_EQ(p[0][2][0].item<float>(), 0.0f);
  EXPECT_EQ(Row(m, 0), (std::vector<int64_t>{1, 1, 0}));
}

TEST(Patchify, WindowOneIsIdentity) {
  const auto x = torch::randn({2, 4, 3});
  auto [p, m] = fas::Patchify(x, torch::ones({2, 4}), 1);
  EXPECT_TRUE(torch::equal(p, x));
  EXPECT_EQ(m.scalar_type(), torch::kBool);
}

}  // namespace

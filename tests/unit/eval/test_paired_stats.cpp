// The paired statistics against known values: McNemar's exact p from integer binomial sums, Holm by hand, and the
// bootstrap interval numpy computes on the same resampling indices (scripts/fixtures/make_paired_stats_fixtures.py).
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "fas/eval/paired_stats.h"
#include "support/test_support.h"

namespace {

nlohmann::json Fixture() {
  return nlohmann::json::parse(
      fas::testing::ReadFile(fas::testing::SourceDir() + "/tests/fixtures/paired_stats/cases.json"));
}

TEST(PairedStats, McNemarExactMatchesTheIntegerBinomial) {
  const auto cases = Fixture()["mcnemar"];
  ASSERT_GE(cases.size(), 10u);
  for (const auto& c : cases) {
    const double p = c["p"];
    EXPECT_NEAR(fas::McNemarExactP(c["b"], c["c"]), p, 1e-12 + 1e-9 * p) << c.dump();
  }
  EXPECT_DOUBLE_EQ(fas::McNemarExactP(0, 3), 0.25) << "2 * 2^-3";
  EXPECT_DOUBLE_EQ(fas::McNemarExactP(7, 7), 1.0);
  EXPECT_GT(fas::McNemarExactP(20000, 20400), 0.0) << "large counts neither overflow nor underflow";
  EXPECT_LT(fas::McNemarExactP(20000, 20400), 0.05);
}

TEST(PairedStats, HolmStepsDownAndKeepsInputOrder) {
  // Sorted: 0.005 x 4 = 0.02, 0.01 x 3 = 0.03, 0.03 x 2 = 0.06, 0.04 x 1 = 0.04 -> raised to 0.06 (monotone).
  const auto adjusted = fas::HolmAdjust({0.01, 0.04, 0.03, 0.005});
  const std::vector<double> expected = {0.03, 0.06, 0.06, 0.02};
  ASSERT_EQ(adjusted.size(), expected.size());
  for (size_t i = 0; i < expected.size(); ++i) EXPECT_NEAR(adjusted[i], expected[i], 1e-15) << i;
  EXPECT_EQ(fas::HolmAdjust({0.6, 0.5}), (std::vector<double>{1.0, 1.0})) << "capped at 1";
  EXPECT_TRUE(fas::HolmAdjust({}).empty());
}

TEST(PairedStats, PercentileInterpolatesAsNumpy) {
  std::vector<double> v = {4, 1, 3, 2};
  EXPECT_DOUBLE_EQ(fas::Percentile(v, 50), 2.5);
  EXPECT_DOUBLE_EQ(fas::Percentile(v, 2.5), 1.075);  // numpy.percentile([1, 2, 3, 4], 2.5)
  EXPECT_DOUBLE_EQ(fas::Percentile(v, 100), 4);
}

TEST(PairedStats, BootstrapMatchesNumpyOnTheSameIndices) {
  const auto cases = Fixture()["bootstrap"];
  ASSERT_EQ(cases.size(), 2u);
  for (const auto& c : cases) {
    fas::PairedSample sample;
    sample.truth = c["truth"].get<std::vector<int>>();
    sample.num_classes = c["num_classes"];
    sample.a_right = c["a_right"].get<std::vector<std::vector<uint8_t>>>();
    sample.b_right = c["b_right"].get<std::vector<std::vector<uint8_t>>>();
    fas::SplitMix64 rng(c["seed"].get<uint64_t>());
    for (const uint64_t expected : c["first_resample"].get<std::vector<uint64_t>>()) {
      EXPECT_EQ(rng.Below(sample.truth.size()), expected);
    }
    const auto ci = fas::BootstrapDifference(sample, c["resamples"], c["seed"], c["level"]);
    EXPECT_NEAR(ci.acc.lo, c["acc"][0].get<double>(), 1e-12);
    EXPECT_NEAR(ci.acc.hi, c["acc"][1].get<double>(), 1e-12);
    EXPECT_NEAR(ci.ua.lo, c["ua"][0].get<double>(), 1e-12);
    EXPECT_NEAR(ci.ua.hi, c["ua"][1].get<double>(), 1e-12);
    EXPECT_LT(ci.acc.lo, ci.acc.hi);
  }
}

TEST(PairedStats, IdenticalModelsGiveAZeroWidthInterval) {
  fas::PairedSample s;
  s.truth = {0, 1, 1, 0, 2};
  s.num_classes = 3;
  s.a_right = s.b_right = {{1, 0, 1, 1, 0}, {0, 0, 1, 1, 1}};
  const auto ci = fas::BootstrapDifference(s, 100, 1, 0.95);
  EXPECT_EQ(ci.acc.lo, 0.0);
  EXPECT_EQ(ci.acc.hi, 0.0);
  EXPECT_EQ(ci.ua.lo, 0.0);
  EXPECT_EQ(ci.ua.hi, 0.0);
}

}  // namespace

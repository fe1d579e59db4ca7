// Counterfactual pairing: never a partner whose words carry the example's own label, the configured rate, and the
// same partners for the same generator state.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <numeric>

#include "fas/core/error.h"
#include "fas/tasks/ser/counterfactual.h"

namespace {

// 40 utterances over 4 classes; the words of every fifth are unknown.
struct Corpus {
  std::vector<int64_t> labels, words;
  Corpus() {
    for (int64_t i = 0; i < 40; ++i) {
      labels.push_back(i % 4);
      words.push_back(i % 5 == 0 ? -1 : (i / 3) % 4);
    }
  }
};

TEST(Counterfactual, PartnersCarryAnotherEmotionAtTheConfiguredRate) {
  const Corpus c;
  const fas::CounterfactualPairing pairing(c.labels, c.words, 4);
  EXPECT_EQ(pairing.lenders(), 32);
  std::vector<int64_t> items(40);
  std::iota(items.begin(), items.end(), 0);
  torch::manual_seed(11);
  int64_t paired = 0, total = 0;
  for (int round = 0; round < 200; ++round) {
    const auto partners = pairing.Partners(items, 0.3);
    ASSERT_EQ(partners.size(), items.size());
    for (size_t k = 0; k < items.size(); ++k) {
      ++total;
      if (partners[k] == items[k]) continue;
      ++paired;
      const int64_t words = c.words[static_cast<size_t>(partners[k])];
      EXPECT_GE(words, 0) << "an utterance with unknown words lent them";
      EXPECT_NE(words, c.labels[k]) << "paired with words of the example's own emotion";
    }
  }
  EXPECT_NEAR(static_cast<double>(paired) / static_cast<double>(total), 0.3, 0.02);
}

TEST(Counterfactual, SameGeneratorStateSamePartners) {
  const Corpus c;
  const fas::CounterfactualPairing pairing(c.labels, c.words, 4);
  const std::vector<int64_t> items = {3, 17, 8, 22, 39};
  torch::manual_seed(5);
  const auto a = pairing.Partners(items, 0.7);
  torch::manual_seed(5);
  EXPECT_EQ(pairing.Partners(items, 0.7), a);
  EXPECT_EQ(pairing.Partners(items, 0.0), items);
}

TEST(Counterfactual, NoWordEmotionsIsAClearError) {
  EXPECT_THROW(fas::CounterfactualPairing({0, 1}, {-1, -1}, 2), fas::ConfigError);
  // Only words of the example's own emotion exist: it keeps its own.
  const fas::CounterfactualPairing same({0, 0}, {0, 0}, 2);
  EXPECT_EQ(same.Partners({0, 1}, 1.0), (std::vector<int64_t>{0, 1}));
}

}  // namespace

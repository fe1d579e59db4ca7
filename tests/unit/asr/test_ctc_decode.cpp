// CTC decoding, vocabulary and loss against hand-worked examples and brute force over every alignment.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <cmath>
#include <functional>
#include <map>

#include "fas/asr/ctc_decode.h"
#include "fas/core/error.h"
#include "support/test_support.h"

namespace {

// blank 0, then <s>, </s>, <unk>, |, a, b, c
fas::CtcVocab Abc() { return fas::CtcVocab({"<pad>", "<s>", "</s>", "<unk>", "|", "a", "b", "c"}); }

// Log-probabilities whose per-frame argmax is `best` (the best token gets 0.9, the rest share 0.1).
torch::Tensor Peaked(const std::vector<int64_t>& best, int64_t V) {
  auto p = torch::full({static_cast<int64_t>(best.size()), V}, 0.1 / (V - 1));
  for (size_t t = 0; t < best.size(); ++t) p[t][best[t]] = 0.9;
  return p.log();
}

TEST(CtcGreedy, HandWorkedExample) {
  // frames: a a _ a b | | c _ c   ->  merge repeats: a _ a b | c _ c  ->  drop blanks: a a b | c c
  const auto vocab = Abc();
  const std::vector<int64_t> frames = {5, 5, 0, 5, 6, 4, 4, 7, 0, 7};
  const auto ids = fas::CtcGreedyDecode(Peaked(frames, 8), 0);
  EXPECT_EQ(ids, (std::vector<int64_t>{5, 5, 6, 4, 7, 7}));
  EXPECT_EQ(vocab.Decode(ids), "aab cc");
  // Only the first 4 frames of a padded row are read.
  EXPECT_EQ(vocab.Decode(fas::CtcGreedyDecode(Peaked(frames, 8), 0, 4)), "aa");
}

// Two frames, P(blank) = 0.6, P(a) = 0.4 each: the best path is blank-blank (""), but "a" has the larger total
// probability 0.4*0.4 + 0.4*0.6 + 0.6*0.4 = 0.64 > 0.36. Greedy finds "", beam search finds "a".
TEST(CtcBeamSearch, FindsTheMoreProbableLabelingGreedyMisses) {
  const auto lp = torch::tensor({{0.6, 0.4}, {0.6, 0.4}}).log();
  EXPECT_TRUE(fas::CtcGreedyDecode(lp, 0).empty());
  EXPECT_EQ(fas::CtcBeamSearch(lp, 0, 2), (std::vector<int64_t>{1}));
  EXPECT_THROW(fas::CtcBeamSearch(lp, 0, 0), fas::ConfigError);
}

// With a wide beam, the result is the labeling of highest total probability, found here by summing every path.
TEST(CtcBeamSearch, WideBeamEqualsExhaustiveSearch) {
  torch::manual_seed(3);
  const int64_t T = 5, V = 3;
  for (int trial = 0; trial < 5; ++trial) {
    const auto lp = torch::log_softmax(torch::randn({T, V}) * 2, 1);
    std::map<std::vector<int64_t>, double> total;
    std::vector<int64_t> path(T, 0);
    std::function<void(int64_t, double)> walk = [&](int64_t t, double logp) {
      if (t == T) {
        std::vector<int64_t> label;
        int64_t prev = -1;
        for (auto s : path) {
          if (s != prev && s != 0) label.push_back(s);
          prev = s;
        }
        total[label] += std::exp(logp);
        return;
      }
      for (int64_t s = 0; s < V; ++s) {
        path[t] = s;
        walk(t + 1, logp + lp[t][s].item<double>());
      }
    };
    walk(0, 0.0);
    auto best = total.begin();
    for (auto it = total.begin(); it != total.end(); ++it)
      if (it->second > best->second) best = it;
    EXPECT_EQ(fas::CtcBeamSearch(lp, 0, 64), best->first) << "trial " << trial;
  }
}

// -log P("a") over the two frames above, divided by the target length 1.
TEST(CtcLoss, HandWorkedValue) {
  const auto logits = torch::tensor({{0.6, 0.4}, {0.6, 0.4}}).log().unsqueeze(0);
  const auto loss = fas::CtcLoss(logits, torch::tensor({2}, torch::kInt64), {{1}}, 0);
  EXPECT_NEAR(loss.item<double>(), -std::log(0.64), 1e-6);
  // A target longer than the frames allow has infinite loss; it is zeroed rather than poisoning the batch.
  const auto impossible = fas::CtcLoss(logits, torch::tensor({2}, torch::kInt64), {{1, 1, 1}}, 0);
  EXPECT_EQ(impossible.item<double>(), 0.0);
}

TEST(CtcVocab, BuiltFromTextsEncodesAndDecodes) {
  const auto vocab = fas::CtcVocab::FromTexts({"Hello, world!", "don't go"});
  EXPECT_EQ(vocab.blank_id(), 0);
  EXPECT_EQ(vocab.word_delimiter_id(), 4);
  EXPECT_FALSE(vocab.upper_case());
  const auto ids = vocab.Encode("Don't, world");
  EXPECT_EQ(vocab.Decode(ids), "don't world");
  EXPECT_EQ(vocab.Encode("xyz"), (std::vector<int64_t>{vocab.unk_id(), vocab.unk_id(), vocab.unk_id()}));
}

TEST(CtcVocab, WordUnitsOneSymbolPerWord) {
  fas::testing::TempDir d;
  const auto vocab = fas::CtcVocab::FromTextWords({"The cat sat.", "the dog, the end"}, {}, 2);
  EXPECT_TRUE(vocab.word_units());
  EXPECT_FALSE(fas::CtcVocab::FromTexts({"The cat"}).word_units());
  // Specials and `|` first, then the words seen at least twice ("the" only).
  EXPECT_EQ(vocab.tokens(), (std::vector<std::string>{"<pad>", "<s>", "</s>", "<unk>", "|", "the"}));
  const auto all = fas::CtcVocab::FromTextWords({"The cat sat.", "the dog, the end"});
  const auto ids = all.Encode("The cat ran!");
  ASSERT_EQ(ids.size(), 3u);
  EXPECT_EQ(ids[2], all.unk_id());
  EXPECT_EQ(all.Decode(ids), "the cat");
  EXPECT_EQ(all.Decode({5, 4, 6, 6}), "cat dog dog");  // repeats are merged by the decoder, not here
  all.Save(d / "words.json");
  const auto loaded = fas::CtcVocab::Load(d / "words.json");
  EXPECT_TRUE(loaded.word_units());
  EXPECT_EQ(loaded.Encode("dog end"), all.Encode("dog end"));
}

// facebook/wav2vec2-base-960h's layout: upper-case letters, <pad> 0 ... | 4.
TEST(CtcVocab, LoadsHuggingFaceUpperCaseVocab) {
  fas::testing::TempDir d;
  fas::testing::WriteFile(d / "vocab.json",
                          R"({"<pad>": 0, "<s>": 1, "</s>": 2, "<unk>": 3, "|": 4, "E": 5, "T": 6, "A": 7, "'": 8})");
  const auto vocab = fas::CtcVocab::Load(d / "vocab.json");
  EXPECT_TRUE(vocab.upper_case());
  EXPECT_EQ(vocab.Encode("eat tea"), (std::vector<int64_t>{5, 7, 6, 4, 6, 5, 7}));
  EXPECT_EQ(vocab.Decode({5, 7, 6, 4, 6, 5, 7, 4}), "eat tea");
  vocab.Save(d / "again.json");
  EXPECT_EQ(fas::CtcVocab::Load(d / "again.json").tokens(), vocab.tokens());

  fas::testing::WriteFile(d / "gap.json", R"({"<pad>": 0, "|": 2})");
  EXPECT_THROW(fas::CtcVocab::Load(d / "gap.json"), fas::IoError);
  fas::testing::WriteFile(d / "noblank.json", R"({"a": 0, "|": 1})");
  EXPECT_THROW(fas::CtcVocab::Load(d / "noblank.json"), fas::IoError);
  fas::testing::WriteFile(d / "list.json", R"(["<pad>", "|"])");
  EXPECT_THROW(fas::CtcVocab::Load(d / "list.json"), fas::IoError);
  EXPECT_THROW(fas::CtcVocab::Load(d / "missing.json"), fas::IoError);
}

}  // namespace

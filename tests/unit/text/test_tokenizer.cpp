// Tokenizer: special tokens, truncation, padding, batches, the stored normalisation, and XLM-R's fairseq ids.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include "fas/core/error.h"
#include "fas/text/sentencepiece.h"
#include "fas/text/tokenizer.h"
#include "support/test_support.h"

namespace {

using fas::testing::TempDir;

std::vector<std::string> Corpus() {
  std::vector<std::string> texts;
  const char* sentences[] = {"Great, just great!", "I am so happy today.", "This is terrible news",
                             "What a wonderful surprise", "I am afraid of the dark", "That is disgusting",
                             "The meeting is at 12", "Leave me alone right now"};
  for (int r = 0; r < 20; ++r)
    for (const char* s : sentences) texts.emplace_back(s);
  return texts;
}

std::string TrainSmall(const TempDir& d, const std::string& type = "unigram") {
  fas::TokenizerTrainOptions o;
  o.prefix = d / ("tok_" + type);
  o.vocab_size = 60;
  o.model_type = type;
  o.max_length = 16;
  return fas::TrainTokenizer(Corpus(), o);
}

TEST(Tokenizer, SpecialTokensAndRoundTrip) {
  TempDir d;
  for (const std::string type : {"unigram", "bpe"}) {
    fas::Tokenizer tok(fas::TokenizerConfig::ForModel(TrainSmall(d, type)));
    EXPECT_FALSE(tok.fairseq());
    EXPECT_EQ(tok.pad_id(), 0);
    EXPECT_EQ(tok.bos_id(), 2);
    EXPECT_EQ(tok.eos_id(), 3);
    const auto ids = tok.Encode("I am so happy today!");
    ASSERT_GE(ids.size(), 3u);
    EXPECT_EQ(ids.front(), 2);
    EXPECT_EQ(ids.back(), 3);
    // The stored normalisation (lower case, no punctuation) is applied at inference.
    EXPECT_EQ(tok.Decode(ids), "i am so happy today") << type;
  }
}

TEST(Tokenizer, NormalisationIsStoredBesideTheModel) {
  TempDir d;
  fas::TokenizerTrainOptions o;
  o.prefix = d / "keep";
  o.vocab_size = 60;
  o.normalization.numbers = "keep";
  const auto model = fas::TrainTokenizer(Corpus(), o);
  const auto cfg = fas::TokenizerConfig::ForModel(model);
  EXPECT_EQ(cfg.normalization.numbers, "keep");
  EXPECT_EQ(cfg.model, model);
  fas::Tokenizer keep(cfg);
  EXPECT_EQ(keep.Normalize("At 12!"), "at 12");
  fas::Tokenizer words(fas::TokenizerConfig::ForModel(TrainSmall(d)));
  EXPECT_EQ(words.Normalize("At 12!"), "at twelve");
}

TEST(Tokenizer, TruncationKeepsSpecialTokensAndPaddingFillsBatches) {
  TempDir d;
  auto cfg = fas::TokenizerConfig::ForModel(TrainSmall(d));
  cfg.max_length = 5;
  fas::Tokenizer tok(cfg);
  const auto ids = tok.Encode("what a wonderful surprise i am so happy today");
  ASSERT_EQ(ids.size(), 5u);
  EXPECT_EQ(ids.front(), tok.bos_id());
  EXPECT_EQ(ids.back(), tok.eos_id());

  const auto batch = tok.EncodeBatch({"great", "what a wonderful surprise i am so happy today", ""});
  ASSERT_EQ(batch.input_ids.sizes(), (std::vector<int64_t>{3, 5}));
  EXPECT_EQ(batch.lengths[2], 2);  // <s> </s>
  EXPECT_EQ(batch.attention_mask.sum(1)[1].item<int64_t>(), 5);
  for (int64_t b = 0; b < 3; ++b) {
    for (int64_t i = batch.lengths[b]; i < 5; ++i) {
      EXPECT_EQ(batch.input_ids[b][i].item<int64_t>(), tok.pad_id());
      EXPECT_EQ(batch.attention_mask[b][i].item<int64_t>(), 0);
    }
  }
  EXPECT_EQ(batch.input_ids.scalar_type(), torch::kInt64);

  cfg.padding = "max_length";
  cfg.max_length = 12;
  fas::Tokenizer fixed(cfg);
  EXPECT_EQ(fixed.EncodeBatch({"great"}).input_ids.size(1), 12);
  cfg.add_special_tokens = false;
  fas::Tokenizer bare(cfg);
  const auto plain = bare.Encode("great");
  EXPECT_NE(plain.front(), tok.bos_id());
}

// An XLM-R style sentencepiece.bpe.model (<unk> 0, <s> 1, </s> 2, no <pad>) through fairseq's dictionary.
TEST(Tokenizer, FairseqConventionShiftsPiecesByOne) {
  TempDir d;
  std::string text;
  for (const auto& s : Corpus()) text += s + "\n";
  fas::testing::WriteFile(d / "corpus.txt", text);
  fas::SentencePieceTrainOptions o;
  o.input = d / "corpus.txt";
  o.model_prefix = d / "sentencepiece.bpe";
  o.vocab_size = 60;
  o.model_type = "bpe";
  o.pad_id = -1;
  o.unk_id = 0;
  o.bos_id = 1;
  o.eos_id = 2;
  fas::SentencePiece::Train(o);
  const std::string model = d / "sentencepiece.bpe.model";
  fas::SentencePiece sp(model);

  fas::TokenizerConfig cfg;
  cfg.model = model;
  cfg.normalize = false;
  fas::Tokenizer tok(cfg);  // convention auto
  ASSERT_TRUE(tok.fairseq());
  EXPECT_EQ(tok.bos_id(), 0);
  EXPECT_EQ(tok.pad_id(), 1);
  EXPECT_EQ(tok.eos_id(), 2);
  EXPECT_EQ(tok.unk_id(), 3);
  EXPECT_EQ(tok.mask_id(), sp.PieceSize() + 1);
  EXPECT_EQ(tok.vocab_size(), sp.PieceSize() + 2);

  const std::string s = "what a wonderful surprise";
  const auto pieces = sp.Encode(s);
  const auto ids = tok.Encode(s);
  ASSERT_EQ(ids.size(), pieces.size() + 2);
  EXPECT_EQ(ids.front(), 0);
  EXPECT_EQ(ids.back(), 2);
  for (size_t i = 0; i < pieces.size(); ++i) EXPECT_EQ(ids[i + 1], pieces[i] + 1);
  EXPECT_EQ(tok.Decode(ids), s);
  // A character the model never saw is sentencepiece's <unk> (0), which fairseq calls 3.
  const auto unk = tok.Encode("Q");
  EXPECT_NE(std::find(unk.begin(), unk.end(), 3), unk.end());
  EXPECT_EQ(tok.EncodeBatch({"great", s}).input_ids[0][ids.size() - 1].item<int64_t>(), 1);  // <pad> is 1

  cfg.convention = "native";
  EXPECT_THROW(fas::Tokenizer{cfg}, fas::ConfigError);  // no <pad> in this model
  cfg.convention = "fairseq";
  cfg.model = TrainSmall(d);
  EXPECT_THROW(fas::Tokenizer{cfg}, fas::ConfigError);  // not XLM-R's layout
}

TEST(Tokenizer, BadOptionsAreConfigErrors) {
  TempDir d;
  fas::TokenizerTrainOptions o;
  o.prefix = d / "x";
  EXPECT_THROW(fas::TrainTokenizer({"", "  ", "?!"}, o), fas::DataError);
  o.model_type = "word2vec";
  EXPECT_THROW(fas::TrainTokenizer(Corpus(), o), fas::ConfigError);
  auto cfg = fas::TokenizerConfig::ForModel(TrainSmall(d));
  cfg.max_length = 2;
  EXPECT_THROW(fas::Tokenizer{cfg}, fas::ConfigError);
  cfg.max_length = 8;
  cfg.padding = "right";
  EXPECT_THROW(fas::Tokenizer{cfg}, fas::ConfigError);
}

}  // namespace

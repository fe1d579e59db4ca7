// Trains and uses a sentencepiece model inside a process that also runs LibTorch (docs/design.md, "The machine, measured": protobuf).
#include <gtest/gtest.h>
#include <torch/torch.h>

#include "fas/core/error.h"
#include "fas/text/sentencepiece.h"
#include "support/test_support.h"

namespace {

void WriteCorpus(const std::string& path) {
  std::string text;
  const char* sentences[] = {"great just great", "i am so happy today", "this is terrible news",
                             "what a wonderful surprise", "i am afraid of the dark", "that is disgusting",
                             "the meeting is at noon", "leave me alone right now"};
  for (int r = 0; r < 20; ++r)
    for (const char* s : sentences) text += std::string(s) + "\n";
  fas::testing::WriteFile(path, text);
}

TEST(SentencePiece, TrainsAndRoundTripsBesideLibTorch) {
  auto t = torch::randn({64, 64}).matmul(torch::randn({64, 64}));  // LibTorch is live in this process
  ASSERT_EQ(t.size(0), 64);
  fas::testing::TempDir d;
  WriteCorpus(d / "corpus.txt");
  for (const std::string type : {"unigram", "bpe"}) {
    fas::SentencePieceTrainOptions o;
    o.input = d / "corpus.txt";
    o.model_prefix = d / type;
    o.vocab_size = 60;
    o.model_type = type;
    fas::SentencePiece::Train(o);
    fas::SentencePiece sp(d / (type + ".model"));
    EXPECT_EQ(sp.pad_id(), 0);
    EXPECT_EQ(sp.unk_id(), 1);
    EXPECT_EQ(sp.bos_id(), 2);
    EXPECT_EQ(sp.eos_id(), 3);
    const std::string s = "great just great what a surprise";
    const auto ids = sp.Encode(s);
    ASSERT_FALSE(ids.empty());
    for (int id : ids) EXPECT_LT(id, sp.PieceSize());
    EXPECT_EQ(sp.Decode(ids), s) << type;
    EXPECT_EQ(sp.PieceToId(sp.IdToPiece(ids[0])), ids[0]);
  }
}

TEST(SentencePiece, MissingModelIsACleanError) {
  EXPECT_THROW(fas::SentencePiece("/nonexistent/model.model"), fas::IoError);
  fas::testing::TempDir d;
  fas::testing::WriteFile(d / "garbage.model", "not a model");
  EXPECT_THROW(fas::SentencePiece(d / "garbage.model"), fas::IoError);
}

}  // namespace

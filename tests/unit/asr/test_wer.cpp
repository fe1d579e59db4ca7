// Word error rate and the shared text normalisation, on hand-worked examples.
#include <gtest/gtest.h>

#include "fas/asr/wer.h"
#include "fas/core/error.h"
#include "fas/text/normalize.h"

namespace {

TEST(Normalize, CasePunctuationApostrophesHyphens) {
  EXPECT_EQ(fas::NormalizeText("  Don't YELL at me!!  "), "don't yell at me");
  EXPECT_EQ(fas::NormalizeText("A well-known 'quote', isn't it?"), "a well known quote isn't it");
  fas::NormalizeOptions keep_case;
  keep_case.lowercase = false;
  EXPECT_EQ(fas::NormalizeText("Hello, World.", keep_case), "Hello World");
  fas::NormalizeOptions keep_punct;
  keep_punct.strip_punctuation = false;
  EXPECT_EQ(fas::NormalizeText("Hi,  there!", keep_punct), "hi, there!");
}

TEST(Normalize, NumbersToWordsOrKept) {
  EXPECT_EQ(fas::NormalizeText("Room 42 at 10:30"), "room forty two at ten thirty");
  EXPECT_EQ(fas::NormalizeText("It costs 1,250 dollars"), "it costs one thousand two hundred fifty dollars");
  EXPECT_EQ(fas::NormalizeText("3.5 km"), "three point five km");
  EXPECT_EQ(fas::NormalizeText("agent 007"), "agent zero zero seven");
  EXPECT_EQ(fas::NumberToWords(0), "zero");
  EXPECT_EQ(fas::NumberToWords(100), "one hundred");
  EXPECT_EQ(fas::NumberToWords(2000019), "two million nineteen");
  fas::NormalizeOptions keep;
  keep.numbers = "keep";
  EXPECT_EQ(fas::NormalizeText("Room 42!", keep), "room 42");
  fas::NormalizeOptions bad;
  bad.numbers = "roman";
  EXPECT_THROW(fas::NormalizeText("x", bad), fas::ConfigError);
}

TEST(Wer, HandWorkedAlignments) {
  // ref: the cat sat on the mat (6 words); hyp: the cat sit on mat mat now
  // the=the, cat=cat, sat->sit (S), on=on, the->mat (S), mat=mat, +now (I)  -> or: delete "the", insert "mat"...
  // the minimum is 3 edits; ties prefer substitutions: S 2, D 0, I 1.
  auto c = fas::ComputeWer("The cat sat on the mat.", "the cat sit on mat mat now");
  EXPECT_EQ(c.ref_words, 6);
  EXPECT_EQ(c.Errors(), 3);
  EXPECT_EQ(c.substitutions, 2);
  EXPECT_EQ(c.deletions, 0);
  EXPECT_EQ(c.insertions, 1);
  EXPECT_NEAR(c.Wer(), 0.5, 1e-12);

  c = fas::ComputeWer("i am so happy today", "i am happy");  // two deletions
  EXPECT_EQ(c.deletions, 2);
  EXPECT_EQ(c.substitutions + c.insertions, 0);
  EXPECT_NEAR(c.Wer(), 0.4, 1e-12);

  c = fas::ComputeWer("stop", "please stop it now");  // three insertions: WER above 1
  EXPECT_EQ(c.insertions, 3);
  EXPECT_NEAR(c.Wer(), 3.0, 1e-12);

  c = fas::ComputeWer("Don't go!", "don't go");  // normalisation makes them equal
  EXPECT_EQ(c.Errors(), 0);

  c = fas::ComputeWer("", "");
  EXPECT_EQ(c.Wer(), 0.0);
  c = fas::ComputeWer("", "noise");
  EXPECT_EQ(c.insertions, 1);
  EXPECT_EQ(c.Wer(), 1.0);
}

TEST(Wer, CountsSumOverACorpus) {
  fas::WerCounts total;
  total += fas::ComputeWer("a b c d", "a x c d");  // 1 S of 4
  total += fas::ComputeWer("e f", "e");            // 1 D of 2
  EXPECT_EQ(total.ref_words, 6);
  EXPECT_EQ(total.utterances, 2);
  EXPECT_NEAR(total.Wer(), 2.0 / 6.0, 1e-12);
  EXPECT_NE(total.Summary().find("WER 33.3%"), std::string::npos) << total.Summary();
}

}  // namespace

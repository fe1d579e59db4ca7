// WordPiece (BERT's tokenizer) on a small hand-made vocabulary: every step of basic tokenization, the greedy
// longest match, [UNK], special tokens written in the text, the options a model folder's tokenizer_config.json
// gives, and the Tokenizer built on it. Parity with HuggingFace on a real vocabulary:
// tests/unit/encoders/test_minilm.cpp.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include "fas/core/error.h"
#include "fas/text/tokenizer.h"
#include "fas/text/wordpiece.h"
#include "support/test_support.h"

namespace {

using fas::testing::TempDir;
using Strings = std::vector<std::string>;

Strings Vocab() {
  return {"[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "un",     "##aff", "##able", "##a", "aff",  "a",
          "##b",   "hello", "world", ",",     "!",      "[",      "]",     "mask",   "x",   "y",    "cafe",
          "naive", "北",    "京",    "i",     "love",   "Café",   "Hello", "ab",     "cd",  "abcd", "i\xcc\x87"};
}

fas::WordPiece Make(bool lowercase = true, bool strip_accents = true) {
  fas::WordPieceOptions o;
  o.lowercase = lowercase;
  o.strip_accents = strip_accents;
  return fas::WordPiece(Vocab(), o);
}

std::string Folder(const TempDir& d, const std::string& tokenizer_config) {
  std::string vocab;
  for (const auto& t : Vocab()) vocab += t + "\n";
  fas::testing::WriteFile(d / "vocab.txt", vocab);
  if (!tokenizer_config.empty()) fas::testing::WriteFile(d / "tokenizer_config.json", tokenizer_config);
  return d.path();
}

TEST(WordPiece, BasicTokenizationSplitsPunctuationAndCjkAndStripsAccents) {
  const auto wp = Make();
  EXPECT_EQ(wp.BasicTokenize("Hello, World!"), (Strings{"hello", ",", "world", "!"}));
  EXPECT_EQ(wp.BasicTokenize("Café NAÏVE"), (Strings{"cafe", "naive"}));
  EXPECT_EQ(wp.BasicTokenize("I love北京"), (Strings{"i", "love", "北", "京"}));
  // ASCII symbols count as punctuation; Unicode punctuation too.
  EXPECT_EQ(wp.BasicTokenize("$5^2—«x»"), (Strings{"$", "5", "^", "2", "—", "«", "x", "»"}));
  // Whitespace of every kind separates; control and format characters (bell, zero-width space, BOM), NUL and
  // U+FFFD vanish without separating.
  EXPECT_EQ(wp.BasicTokenize("a\tb\xc2\xa0" "c\x07" "d\xe2\x80\x8b" "e\xef\xbb\xbf" "f"), (Strings{"a", "b", "cdef"}));
  EXPECT_EQ(wp.BasicTokenize(std::string("ab\0cd\xef\xbf\xbd" "e", 9)), (Strings{"abcde"}));
  // A byte that starts no UTF-8 sequence is dropped like U+FFFD.
  EXPECT_EQ(wp.BasicTokenize("ab\xff" "cd"), (Strings{"abcd"}));
  // Lower-casing is per character: a final sigma stays σ; İ decomposes and loses its dot.
  EXPECT_EQ(wp.BasicTokenize("ΟΔΟΣ İ"), (Strings{"οδοσ", "i"}));
  EXPECT_TRUE(wp.BasicTokenize("  \n ").empty());
  EXPECT_TRUE(wp.BasicTokenize("").empty());
}

TEST(WordPiece, CasedModelsKeepCaseAndAccents) {
  const auto cased = Make(false, false);
  EXPECT_EQ(cased.BasicTokenize("Café, NAÏVE"), (Strings{"Café", ",", "NAÏVE"}));
  EXPECT_EQ(cased.Tokenize("Hello Café"), (Strings{"Hello", "Café"}));
  const auto strip_only = Make(false, true);
  EXPECT_EQ(strip_only.BasicTokenize("Café"), (Strings{"Cafe"}));
  // Lower-casing without accent stripping: İ's full lower-case mapping is two characters.
  const auto lower_only = Make(true, false);
  EXPECT_EQ(lower_only.BasicTokenize("İ"), (Strings{"i\xcc\x87"}));
}

TEST(WordPiece, GreedyLongestMatchAndUnknownWords) {
  const auto wp = Make();
  EXPECT_EQ(wp.Tokenize("unaffable"), (Strings{"un", "##aff", "##able"}));  // ##aff before ##a
  EXPECT_EQ(wp.Tokenize("affa abab"), (Strings{"aff", "##a", "ab", "##a", "##b"}));
  EXPECT_EQ(wp.Tokenize("abcd"), (Strings{"abcd"}));
  // One unmatched character makes the whole word unknown.
  EXPECT_EQ(wp.Tokenize("hello unaffablez world"), (Strings{"hello", "[UNK]", "world"}));
  EXPECT_EQ(wp.Tokenize("😀"), (Strings{"[UNK]"}));
  // 100 characters are tokenised, 101 are one [UNK].
  const std::string hundred(100, 'a');
  const auto pieces = wp.Tokenize(hundred);
  ASSERT_EQ(pieces.size(), 100u);
  EXPECT_EQ(pieces[0], "a");
  EXPECT_EQ(pieces[99], "##a");
  EXPECT_EQ(wp.Tokenize(hundred + "a"), (Strings{"[UNK]"}));
  EXPECT_EQ(wp.Encode("hello unaffable"), (std::vector<int64_t>{12, 5, 6, 7}));
  EXPECT_EQ(wp.Decode({2, 12, 5, 6, 7, 1, 3, 0}), "hello unaffable [UNK]");
  EXPECT_THROW(wp.Decode({99}), fas::DataError);
}

TEST(WordPiece, SpecialTokensWrittenInTheTextStayWhole) {
  const auto wp = Make();
  EXPECT_EQ(wp.Tokenize("x[SEP]y"), (Strings{"x", "[SEP]", "y"}));
  EXPECT_EQ(wp.Tokenize("[MASK] hello [CLS]"), (Strings{"[MASK]", "hello", "[CLS]"}));
  // Matched as written, before lower-casing: "[mask]" is three words.
  EXPECT_EQ(wp.Tokenize("[mask]"), (Strings{"[", "mask", "]"}));
  EXPECT_EQ(wp.Tokenize("[SEP"), (Strings{"[", "[UNK]"}));
}

TEST(WordPiece, OptionsComeFromTokenizerConfigJson) {
  {
    TempDir d;
    const fas::WordPiece wp(Folder(d, ""));  // no tokenizer_config.json: uncased BERT's defaults
    EXPECT_TRUE(wp.options().lowercase);
    EXPECT_TRUE(wp.options().strip_accents);
    EXPECT_EQ(wp.size(), static_cast<int64_t>(Vocab().size()));
    EXPECT_EQ(wp.pad_id(), 0);
    EXPECT_EQ(wp.unk_id(), 1);
    EXPECT_EQ(wp.cls_id(), 2);
    EXPECT_EQ(wp.sep_id(), 3);
    EXPECT_EQ(wp.mask_id(), 4);
    EXPECT_EQ(wp.TokenToId("北"), 23);
    EXPECT_EQ(wp.TokenToId("nope"), -1);
  }
  {
    TempDir d;
    const fas::WordPiece wp(Folder(
        d, R"({"do_lower_case": false, "strip_accents": null, "tokenize_chinese_chars": false,
               "unk_token": {"content": "[UNK]", "lstrip": false}, "tokenizer_class": "BertTokenizer"})"));
    EXPECT_FALSE(wp.options().lowercase);
    EXPECT_FALSE(wp.options().strip_accents);  // null follows do_lower_case
    EXPECT_EQ(wp.BasicTokenize("北京"), (Strings{"北京"}));
  }
  {
    TempDir d;
    const fas::WordPiece wp(Folder(d, R"({"do_lower_case": true, "strip_accents": false})"));
    EXPECT_TRUE(wp.options().lowercase);
    EXPECT_FALSE(wp.options().strip_accents);
  }
}

TEST(WordPiece, BadFoldersAreCleanErrors) {
  TempDir d;
  EXPECT_THROW(fas::WordPiece(d.path()), fas::IoError);  // no vocab.txt
  EXPECT_THROW(fas::WordPiece(d / "missing"), fas::IoError);
  fas::testing::WriteFile(d / "vocab.txt", "[PAD]\n[CLS]\n[SEP]\nhello\n");
  try {
    fas::WordPiece wp(d.path());
    FAIL() << "a vocabulary without [UNK] must fail";
  } catch (const fas::ConfigError& e) {
    EXPECT_NE(std::string(e.what()).find("[UNK]"), std::string::npos) << e.what();
  }
  TempDir e;
  EXPECT_THROW(fas::WordPiece(Folder(e, R"({"do_basic_tokenize": false})")), fas::ConfigError);
  TempDir f;
  EXPECT_THROW(fas::WordPiece(Folder(f, "{not json")), fas::IoError);
  TempDir g;
  EXPECT_THROW(fas::WordPiece(Folder(g, R"({"do_lower_case": "yes"})")), fas::ConfigError);
}

// A model folder as the Tokenizer's model: [CLS] ... [SEP], [PAD] padding, truncation, no fairseq ids.
TEST(WordPiece, TokenizerTakesAModelFolder) {
  TempDir d;
  fas::TokenizerConfig cfg = fas::TokenizerConfig::ForModel(Folder(d, R"({"do_lower_case": true})"));
  EXPECT_TRUE(cfg.normalize);  // the defaults: no sidecar is read for a folder
  cfg.normalize = false;
  cfg.max_length = 5;
  fas::Tokenizer tok(cfg);
  EXPECT_TRUE(tok.wordpiece());
  EXPECT_FALSE(tok.fairseq());
  EXPECT_EQ(tok.vocab_size(), static_cast<int64_t>(Vocab().size()));
  EXPECT_EQ(tok.pad_id(), 0);
  EXPECT_EQ(tok.bos_id(), 2);
  EXPECT_EQ(tok.eos_id(), 3);
  EXPECT_EQ(tok.mask_id(), 4);
  EXPECT_EQ(tok.Encode("Hello, world"), (std::vector<int64_t>{2, 12, 14, 13, 3}));
  EXPECT_EQ(tok.Encode("hello unaffable world"), (std::vector<int64_t>{2, 12, 5, 6, 3}));  // truncated
  EXPECT_EQ(tok.Pieces("Unaffable!"), (Strings{"un", "##aff", "##able", "!"}));
  EXPECT_EQ(tok.Decode(tok.Encode("hello unaffable")), "hello unaff");

  const auto batch = tok.EncodeBatch({"hello", "", "x y x y x y"});
  ASSERT_EQ(batch.input_ids.sizes(), (std::vector<int64_t>{3, 5}));
  EXPECT_TRUE(batch.input_ids[0].equal(torch::tensor({2, 12, 3, 0, 0}, torch::kInt64)));
  EXPECT_TRUE(batch.input_ids[1].equal(torch::tensor({2, 3, 0, 0, 0}, torch::kInt64)));
  EXPECT_TRUE(batch.attention_mask[0].equal(torch::tensor({1, 1, 1, 0, 0}, torch::kInt64)));
  EXPECT_EQ(batch.lengths, (std::vector<int64_t>{3, 2, 5}));

  cfg.convention = "fairseq";
  EXPECT_THROW(fas::Tokenizer{cfg}, fas::ConfigError);
}

}  // namespace

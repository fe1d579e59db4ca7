// WordPiece tokenization, as HuggingFace's BertTokenizer does it for BERT-family checkpoints (an HF model folder's
// vocab.txt and tokenizer_config.json):
//   1. special tokens written in the text ("[MASK]", "[SEP]", ...) are kept whole, matched before anything else;
//   2. normalisation: NUL, U+FFFD and control / format / private-use characters are removed, whitespace becomes a
//      space, CJK ideographs get a space on each side; for uncased models (do_lower_case, strip_accents) the text
//      is decomposed (NFD) and nonspacing marks (Mn) are dropped, then lower-cased character by character;
//   3. words: split on whitespace, every punctuation character a word of its own;
//   4. WordPiece: greedy longest match from the start of each word, continuation pieces prefixed with "##"; a word
//      with a piece that matches nothing, or longer than 100 characters, is [UNK].
// Hand-written: neither Debian nor PyPI has a C++ library that implements WordPiece (sentencepiece does unigram and
// BPE only). Unicode decomposition and character categories come from utf8proc (Debian's libutf8proc). Its
// tables are newer than the ones HuggingFace's tokenizers library carries, so characters assigned in recent
// Unicode versions can be classed differently there (a combining mark added in Unicode 13, U+1ABF, is dropped
// here and kept there); otherwise the tokens are HuggingFace's (tests/unit/encoders/test_minilm.cpp).
#pragma once

#include <cstdint>
#include <string>
#include <unordered_map>
#include <vector>

namespace fas {

struct WordPieceOptions {
  bool lowercase = true;      // tokenizer_config.json's do_lower_case
  bool strip_accents = true;  // strip_accents; null there = follow do_lower_case
  bool tokenize_chinese_chars = true;
  std::string unk_token = "[UNK]";
  std::string cls_token = "[CLS]";
  std::string sep_token = "[SEP]";
  std::string pad_token = "[PAD]";
  std::string mask_token = "[MASK]";
  int max_input_chars_per_word = 100;
};

class WordPiece {
 public:
  // A HuggingFace model folder: vocab.txt (one token a line, id = line number) and, when present,
  // tokenizer_config.json for the options. Throws IoError (no vocab.txt, unreadable) or ConfigError (an option
  // this tokenizer does not implement, a special token missing from the vocabulary).
  explicit WordPiece(const std::string& folder);
  WordPiece(std::vector<std::string> vocab, WordPieceOptions options);

  // Tokens and ids of `text`, without [CLS] / [SEP].
  std::vector<std::string> Tokenize(const std::string& text) const;
  std::vector<int64_t> Encode(const std::string& text) const;
  // Tokens joined by spaces, "##" pieces glued to the previous token; special tokens dropped.
  std::string Decode(const std::vector<int64_t>& ids) const;

  // Steps 2 and 3 (no special tokens, no WordPiece): the words WordPiece is applied to.
  std::vector<std::string> BasicTokenize(const std::string& text) const;

  int64_t TokenToId(const std::string& token) const;  // -1 when absent
  const std::string& IdToToken(int64_t id) const;     // throws DataError outside the vocabulary
  int64_t size() const { return static_cast<int64_t>(vocab_.size()); }
  int64_t unk_id() const { return unk_id_; }
  int64_t cls_id() const { return cls_id_; }
  int64_t sep_id() const { return sep_id_; }
  int64_t pad_id() const { return pad_id_; }
  int64_t mask_id() const { return mask_id_; }
  const WordPieceOptions& options() const { return options_; }

 private:
  void Init();
  void WordToPieces(const std::vector<int32_t>& word, std::vector<std::string>& out) const;

  std::vector<std::string> vocab_;
  std::unordered_map<std::string, int64_t> ids_;
  WordPieceOptions options_;
  std::vector<std::string> specials_;  // the special tokens the vocabulary has, longest first
  int64_t unk_id_ = -1, cls_id_ = -1, sep_id_ = -1, pad_id_ = -1, mask_id_ = -1;
};

}  // namespace fas

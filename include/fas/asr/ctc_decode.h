// CTC pieces that do not depend on the acoustic model: the output vocabulary (HuggingFace
// Wav2Vec2CTCTokenizer's vocab.json), greedy and prefix beam-search decoding, and the loss.
//
// Conventions are HuggingFace's: the blank is the <pad> token, words are separated by the delimiter `|`, and
// decoding collapses repeats, then drops blanks.
//
// Output units are characters (HuggingFace's convention) or whole words (an FAS extension for closed-vocabulary
// corpora such as the synthetic one: a word is one output symbol, which a small model learns from far less audio
// than spelling). A vocabulary is a word vocabulary when one of its regular tokens is longer than one character;
// words are then emitted without `|` between them and decoded joined by spaces. Text reaches the vocabulary through the
// shared normalisation (fas/text/normalize.h), the same as the word error rate sees it.
#pragma once

#include <torch/torch.h>

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "fas/text/normalize.h"

namespace fas {

class CtcVocab {
 public:
  // {"<pad>": 0, "<s>": 1, "</s>": 2, "<unk>": 3, "|": 4, "E": 5, ...}; throws IoError naming the file when it is
  // unreadable, not a mapping of token to id, has gaps or duplicates, or lacks <pad> or `|`.
  static CtcVocab Load(const std::string& vocab_json);
  // <pad> 0, <s> 1, </s> 2, <unk> 3, | 4, then every character of the normalised texts in code-point order
  // (UTF-8 aware).
  static CtcVocab FromTexts(const std::vector<std::string>& texts, const NormalizeOptions& normalization = {});
  // <pad> 0, <s> 1, </s> 2, <unk> 3, | 4, then every word of the normalised texts that occurs at least
  // `min_count` times, in byte order. Words outside it become <unk> in training targets. (Texts of one-letter
  // words only would give a character vocabulary.)
  static CtcVocab FromTextWords(const std::vector<std::string>& texts, const NormalizeOptions& normalization = {},
                                int min_count = 1);
  // The same, from a token list (index = id).
  explicit CtcVocab(std::vector<std::string> tokens);

  void Save(const std::string& vocab_json) const;

  int64_t size() const { return static_cast<int64_t>(tokens_.size()); }
  int64_t blank_id() const { return blank_; }
  int64_t unk_id() const { return unk_; }
  int64_t word_delimiter_id() const { return delimiter_; }
  const std::vector<std::string>& tokens() const { return tokens_; }
  // True when the letters of the vocabulary are upper case (facebook/wav2vec2-base-960h): text is upper-cased on
  // the way in and lower-cased on the way out.
  bool upper_case() const { return upper_; }
  // True for a word vocabulary (a regular token longer than one character).
  bool word_units() const { return words_; }

  // Normalised text → ids. Characters: spaces → `|`, characters outside the vocabulary → <unk>. Words: one id a
  // word, words outside the vocabulary → <unk>.
  std::vector<int64_t> Encode(const std::string& text, const NormalizeOptions& normalization = {}) const;
  // Collapsed ids (no repeats merged here) → lower-case words separated by single spaces; special tokens dropped.
  std::string Decode(const std::vector<int64_t>& ids) const;

 private:
  std::vector<std::string> tokens_;
  std::map<std::string, int64_t> index_;
  int64_t blank_ = 0, unk_ = -1, delimiter_ = -1;
  bool upper_ = false;
  bool words_ = false;
};

// Best path: per-frame argmax, repeats merged, blanks dropped. log_probs [T, V]; only the first `frames` frames
// are read (-1: all).
std::vector<int64_t> CtcGreedyDecode(const torch::Tensor& log_probs, int64_t blank, int64_t frames = -1);

// CTC prefix beam search (no language model) keeping `beam_width` prefixes; width 1 equals greedy decoding up to
// ties. log_probs [T, V] (log-softmax); only the first `frames` frames are read (-1: all).
std::vector<int64_t> CtcBeamSearch(const torch::Tensor& log_probs, int64_t blank, int beam_width, int64_t frames = -1);

// Mean over the batch of the CTC negative log-likelihood divided by each target's length (torch's "mean"
// reduction). logits [B, T, V]; frame_lengths [B]; targets: one id sequence per utterance (no blanks).
// Infinite losses (a target longer than its frames allow) are zeroed, as HuggingFace's ctc_zero_infinity does.
torch::Tensor CtcLoss(const torch::Tensor& logits, const torch::Tensor& frame_lengths,
                      const std::vector<std::vector<int64_t>>& targets, int64_t blank);

}  // namespace fas

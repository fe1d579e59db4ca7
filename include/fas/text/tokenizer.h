// Text → token ids for the text transformers: normalisation, sentencepiece or WordPiece, special tokens, truncation,
// padding, batches as tensors. Two kinds of model:
//   sentencepiece (a .model file): ours, trained by `fas tokenizer train`, or XLM-R's, with two id conventions:
//     native:  the model's own ids (ours are trained BERT-style: <pad> 0, <unk> 1, <s> 2, </s> 3);
//     fairseq: XLM-R's sentencepiece.bpe.model (<unk> 0, <s> 1, </s> 2 inside sentencepiece, no <pad>) seen
//              through fairseq's dictionary, as HuggingFace's XLMRobertaTokenizer does: <s> 0, <pad> 1, </s> 2,
//              <unk> 3, every other piece at its sentencepiece id + 1, <mask> last. xlm-roberta checkpoints were
//              trained on these ids.
//   WordPiece (a HuggingFace model folder with vocab.txt: BERT, MiniLM, ...): the vocabulary's own ids, [CLS] and
//     [SEP] in the places of <s> and </s>, the folder's tokenizer_config.json for casing and accents (wordpiece.h).
// The normalisation a sentencepiece tokenizer was trained with is stored beside its model (PREFIX.yaml) and applied
// again at inference, so training and inference see the same text.
#pragma once

#include <torch/torch.h>

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "fas/text/normalize.h"

namespace fas {

class SentencePiece;
class WordPiece;

struct TokenizerConfig {
  // A sentencepiece .model file, or a HuggingFace model folder with vocab.txt (WordPiece).
  std::string model;
  std::string convention = "auto";  // sentencepiece: auto | native | fairseq (auto: fairseq when the model has no
                                    // <pad> and unk/bos/eos are 0/1/2, as XLM-R's has); WordPiece: auto | native
  bool add_special_tokens = true;   // <s> ... </s> ([CLS] ... [SEP]) around every sequence
  int max_length = 512;             // longest sequence kept, special tokens included; 0 = no truncation
  std::string padding = "longest";  // longest (pad to the batch's longest) | max_length
  // Apply `normalization` before tokenising. A pretrained WordPiece model does its own (basic tokenization): turn
  // this off to give it the text as HuggingFace's tokenizer would see it.
  bool normalize = true;
  NormalizeOptions normalization;

  template <class V>
  void Visit(V& v) {
    v("model", model, "sentencepiece .model file, or a HuggingFace model folder with vocab.txt (WordPiece)");
    v("convention", convention, "auto | native | fairseq (XLM-R ids)");
    v("add_special_tokens", add_special_tokens, "wrap sequences in <s> ... </s>");
    v("max_length", max_length, "truncation length with special tokens; 0 = none");
    v("padding", padding, "longest | max_length");
    v("normalize", normalize, "normalise text before tokenising");
    v("normalization", normalization);
  }
  // Throws ConfigError naming the bad field.
  void Validate() const;

  // The config stored beside a sentencepiece model by TrainTokenizer (PREFIX.yaml), or the defaults when there is
  // none (always for a WordPiece folder); `model` is set to `model_path` either way.
  static TokenizerConfig ForModel(const std::string& model_path);
};

// input_ids and attention_mask are int64 [B, L] (mask 1 = token, 0 = padding); lengths[b] = tokens of row b.
struct TokenBatch {
  torch::Tensor input_ids;
  torch::Tensor attention_mask;
  std::vector<int64_t> lengths;
};

class Tokenizer {
 public:
  // Loads the model; throws IoError (model unreadable) or ConfigError (convention does not fit the model).
  explicit Tokenizer(TokenizerConfig config);
  ~Tokenizer();
  Tokenizer(const Tokenizer&) = delete;
  Tokenizer& operator=(const Tokenizer&) = delete;

  // One sequence: normalised, tokenised, wrapped in <s> ... </s> ([CLS] ... [SEP]), truncated to max_length (the
  // end of the text is dropped; the closing token stays).
  std::vector<int64_t> Encode(const std::string& text) const;
  TokenBatch EncodeBatch(const std::vector<std::string>& texts) const;
  // Ids → text; special tokens and padding are dropped.
  std::string Decode(const std::vector<int64_t>& ids) const;
  std::vector<std::string> Pieces(const std::string& text) const;  // the model's pieces, after normalisation

  std::string Normalize(const std::string& text) const;

  // The embedding table size a model needs for these ids.
  int64_t vocab_size() const { return vocab_size_; }
  int64_t pad_id() const { return pad_id_; }
  int64_t unk_id() const { return unk_id_; }
  int64_t bos_id() const { return bos_id_; }
  int64_t eos_id() const { return eos_id_; }
  int64_t mask_id() const { return mask_id_; }  // -1 when the convention has none
  bool fairseq() const { return fairseq_; }
  bool wordpiece() const { return wp_ != nullptr; }
  const TokenizerConfig& config() const { return config_; }

 private:
  std::vector<int64_t> PieceIds(const std::string& normalized) const;
  int64_t FromPiece(int spm_id) const;
  int ToPiece(int64_t id) const;  // -1 for special tokens

  TokenizerConfig config_;
  std::unique_ptr<SentencePiece> sp_;  // one of these two
  std::unique_ptr<WordPiece> wp_;
  bool fairseq_ = false;
  int64_t vocab_size_ = 0, pad_id_ = 0, unk_id_ = 0, bos_id_ = 0, eos_id_ = 0, mask_id_ = -1;
};

struct TokenizerTrainOptions {
  std::string prefix;                  // writes PREFIX.model, PREFIX.vocab and PREFIX.yaml (the TokenizerConfig)
  int vocab_size = 1000;
  std::string model_type = "unigram";  // unigram | bpe
  bool normalize = true;
  NormalizeOptions normalization;
  int max_length = 512;
  uint64_t seed = 42;
  int threads = 1;
};

// Trains a native-convention tokenizer on `texts` (normalised first, empty lines dropped). Returns the model
// path. Throws DataError when no text is left, ConfigError on a bad option.
std::string TrainTokenizer(const std::vector<std::string>& texts, const TokenizerTrainOptions& options);

}  // namespace fas

// The BERT / RoBERTa / XLM-R text transformer as one module whose registered parameter names equal
// HuggingFace's bare `BertModel` / `RobertaModel` / `XLMRobertaModel` (embeddings.word_embeddings,
// encoder.layer.N.attention.self.query, ...), so hub checkpoints load as they are. The members differ by
// configuration only:
//   bert                     positions 0 .. L-1
//   roberta, xlm-roberta     positions padding_idx + 1 + (running count of non-pad tokens), padding at padding_idx
// The pooler is not built: the SER model reads token states, and a checkpoint's pooler is skipped on purpose.
#pragma once

#include <torch/torch.h>

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "fas/encoders/encoder.h"
#include "fas/io/state_dict.h"

namespace fas {

struct TextEncoderConfig {
  std::string type = "bert";  // bert | roberta | xlm-roberta
  // A HuggingFace config.json; when set, its architecture (with HuggingFace's defaults for absent fields)
  // replaces the architecture fields below, and `type` follows its model_type.
  std::string hf_config;
  std::string weights;    // safetensors with HuggingFace names; empty = random initialisation
  // The tokenizer the ids come from: a sentencepiece .model (fas tokenizer train, or XLM-R's) or a HuggingFace
  // model folder with vocab.txt (WordPiece: BERT, MiniLM).
  std::string tokenizer;
  bool freeze = false;

  // Architecture, in HuggingFace BertConfig's names. Defaults: a small model that trains from scratch on the
  // synthetic corpus. vocab_size 0 takes the tokenizer's size (and its padding id).
  int64_t vocab_size = 0;
  int64_t hidden_size = 128;
  int64_t num_hidden_layers = 2;
  int64_t num_attention_heads = 4;
  int64_t intermediate_size = 512;
  std::string hidden_act = "gelu";
  int64_t max_position_embeddings = 130;
  int64_t type_vocab_size = 2;
  double layer_norm_eps = 1e-12;
  int64_t pad_token_id = 0;
  double hidden_dropout_prob = 0.1;
  double attention_probs_dropout_prob = 0.1;

  template <class V>
  void Visit(V& v) {
    v("type", type, "bert | roberta | xlm-roberta");
    v("hf_config", hf_config, "HuggingFace config.json (its architecture replaces the fields below)");
    v("weights", weights, "safetensors with HuggingFace tensor names; empty = random init");
    v("tokenizer", tokenizer, "sentencepiece .model, or a HuggingFace model folder with vocab.txt (WordPiece)");
    v("freeze", freeze, "keep the weights fixed");
    v("vocab_size", vocab_size, "0 = the tokenizer's");
    v("hidden_size", hidden_size);
    v("num_hidden_layers", num_hidden_layers);
    v("num_attention_heads", num_attention_heads);
    v("intermediate_size", intermediate_size);
    v("hidden_act", hidden_act, "gelu | gelu_new | relu | silu");
    v("max_position_embeddings", max_position_embeddings);
    v("type_vocab_size", type_vocab_size);
    v("layer_norm_eps", layer_norm_eps);
    v("pad_token_id", pad_token_id);
    v("hidden_dropout_prob", hidden_dropout_prob);
    v("attention_probs_dropout_prob", attention_probs_dropout_prob);
  }
  // Throws ConfigError naming the first bad field.
  void Validate() const;
  // Position embeddings start after the padding index (RoBERTa, XLM-R).
  bool padding_offset_positions() const { return type != "bert"; }
};

// A HuggingFace config.json (model_type bert, roberta, xlm-roberta) as our config. Throws ConfigError naming the
// file and field.
TextEncoderConfig ReadHfTextConfig(const std::string& path);
// Applies hf_config (if set) and the tokenizer's vocabulary size / padding id (vocab_size 0); checks that the
// tokenizer's ids fit the embedding table. Keeps weights / tokenizer / freeze.
TextEncoderConfig ResolveTextConfig(const TextEncoderConfig& config);

// Checkpoint names: `bert.` / `roberta.` prefixes of task checkpoints; pooler, heads and the position_ids /
// token_type_ids buffers skipped on purpose.
const NameMap& TextNameMap();

namespace text_detail {
class EmbeddingsImpl;
class LayerImpl;
}  // namespace text_detail

class TextEncoderImpl : public EncoderModule {
 public:
  explicit TextEncoderImpl(const TextEncoderConfig& config);

  // input_ids [B, L] int64; attention_mask [B, L] (1 = token, 0 = padding; undefined = no padding).
  EncoderOutput Encode(const EncoderInput& input) override;
  EncoderOutput forward(const torch::Tensor& input_ids, const torch::Tensor& attention_mask = {});
  int64_t hidden_size() const override { return config_.hidden_size; }
  int64_t num_layers() const override { return config_.num_hidden_layers; }

  // The position ids the embeddings use for `input_ids` (RoBERTa's padding-offset scheme or 0..L-1).
  torch::Tensor PositionIds(const torch::Tensor& input_ids) const;

  // Strict load (TextNameMap); throws ModelError naming the tensor.
  LoadReport LoadWeights(const std::string& safetensors_path);

  const TextEncoderConfig& config() const { return config_; }

 private:
  TextEncoderConfig config_;
  std::shared_ptr<text_detail::EmbeddingsImpl> embeddings_;
  torch::nn::ModuleList layers_{nullptr};
};
TORCH_MODULE(TextEncoder);

// Resolves the config, validates, builds, loads weights if given, applies freeze. Throws ConfigError /
// ModelError.
TextEncoder CreateTextEncoder(const TextEncoderConfig& config);

}  // namespace fas

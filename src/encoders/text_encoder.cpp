#include "fas/encoders/kernels/gpu_attention.h"
#include "fas/encoders/text_encoder.h"

#include <cmath>
#include <fstream>
#include <limits>
#include <nlohmann/json.hpp>

#include "fas/core/error.h"
#include "fas/io/json_value.h"
#include "fas/text/tokenizer.h"

namespace fas {
namespace text_detail {

torch::Tensor Activate(const std::string& name, const torch::Tensor& x) {
  if (name == "gelu") return torch::gelu(x);
  if (name == "gelu_new" || name == "gelu_pytorch_tanh") return torch::gelu(x, "tanh");
  if (name == "relu") return torch::relu(x);
  return torch::silu(x);  // silu | swish (Validate admits nothing else)
}

class EmbeddingsImpl : public torch::nn::Module {
 public:
  explicit EmbeddingsImpl(const TextEncoderConfig& c)
      : word_embeddings(register_module(
            "word_embeddings",
            torch::nn::Embedding(torch::nn::EmbeddingOptions(c.vocab_size, c.hidden_size).padding_idx(c.pad_token_id)))),
        position_embeddings(register_module(
            "position_embeddings", torch::nn::Embedding(c.max_position_embeddings, c.hidden_size))),
        token_type_embeddings(
            register_module("token_type_embeddings", torch::nn::Embedding(c.type_vocab_size, c.hidden_size))),
        LayerNorm(register_module(
            "LayerNorm",
            torch::nn::LayerNorm(torch::nn::LayerNormOptions({c.hidden_size}).eps(c.layer_norm_eps)))),
        dropout_(c.hidden_dropout_prob) {}

  torch::Tensor forward(const torch::Tensor& ids, const torch::Tensor& positions) {
    auto x = word_embeddings(ids) + position_embeddings(positions) + token_type_embeddings(torch::zeros_like(ids));
    return torch::dropout(LayerNorm(x), dropout_, is_training());
  }

  torch::nn::Embedding word_embeddings, position_embeddings, token_type_embeddings;
  torch::nn::LayerNorm LayerNorm;

 private:
  double dropout_;
};

// attention.self: query/key/value projections and scaled dot-product attention over the unmasked keys.
class SelfAttentionImpl : public torch::nn::Module {
 public:
  explicit SelfAttentionImpl(const TextEncoderConfig& c)
      : query(register_module("query", torch::nn::Linear(c.hidden_size, c.hidden_size))),
        key(register_module("key", torch::nn::Linear(c.hidden_size, c.hidden_size))),
        value(register_module("value", torch::nn::Linear(c.hidden_size, c.hidden_size))),
        heads_(c.num_attention_heads),
        dropout_(c.attention_probs_dropout_prob) {}

  // x [B, L, D]; additive_mask [B, 1, 1, L] (0 for keys, the lowest float for padding).
  torch::Tensor forward(const torch::Tensor& x, const torch::Tensor& additive_mask) {
    const int64_t B = x.size(0), L = x.size(1), D = x.size(2), d = D / heads_;
    auto split = [&](const torch::Tensor& t) { return t.view({B, L, heads_, d}).transpose(1, 2); };
    auto q = split(query(x)), k = split(key(x)), v = split(value(x));
    if (kernels::GpuAttention::Applies(q)) {
      return kernels::GpuAttention::Run(q, k, v, additive_mask, 1.0 / std::sqrt(static_cast<double>(d)),
                                        is_training() ? dropout_ : 0.0)
          .transpose(1, 2)
          .reshape({B, L, D});
    }
    auto scores = torch::matmul(q, k.transpose(-1, -2)) / std::sqrt(static_cast<double>(d)) + additive_mask;
    auto probs = torch::dropout(torch::softmax(scores, -1), dropout_, is_training());
    return torch::matmul(probs, v).transpose(1, 2).reshape({B, L, D});
  }

  torch::nn::Linear query, key, value;

 private:
  int64_t heads_;
  double dropout_;
};
TORCH_MODULE(SelfAttention);

// `attention.output` and `output`: a dense projection, dropout, residual, post-LN.
class DenseResidualImpl : public torch::nn::Module {
 public:
  DenseResidualImpl(int64_t in, const TextEncoderConfig& c)
      : dense(register_module("dense", torch::nn::Linear(in, c.hidden_size))),
        LayerNorm(register_module(
            "LayerNorm",
            torch::nn::LayerNorm(torch::nn::LayerNormOptions({c.hidden_size}).eps(c.layer_norm_eps)))),
        dropout_(c.hidden_dropout_prob) {}

  torch::Tensor forward(const torch::Tensor& x, const torch::Tensor& residual) {
    return LayerNorm(torch::dropout(dense(x), dropout_, is_training()) + residual);
  }

  torch::nn::Linear dense;
  torch::nn::LayerNorm LayerNorm;

 private:
  double dropout_;
};
TORCH_MODULE(DenseResidual);

class AttentionImpl : public torch::nn::Module {
 public:
  explicit AttentionImpl(const TextEncoderConfig& c)
      : self(register_module("self", SelfAttention(c))),
        output(register_module("output", DenseResidual(c.hidden_size, c))) {}
  torch::Tensor forward(const torch::Tensor& x, const torch::Tensor& additive_mask) {
    return output(self(x, additive_mask), x);
  }
  SelfAttention self;
  DenseResidual output;
};
TORCH_MODULE(Attention);

class IntermediateImpl : public torch::nn::Module {
 public:
  explicit IntermediateImpl(const TextEncoderConfig& c)
      : dense(register_module("dense", torch::nn::Linear(c.hidden_size, c.intermediate_size))), act_(c.hidden_act) {}
  torch::Tensor forward(const torch::Tensor& x) { return Activate(act_, dense(x)); }
  torch::nn::Linear dense;

 private:
  std::string act_;
};
TORCH_MODULE(Intermediate);

class LayerImpl : public torch::nn::Module {
 public:
  explicit LayerImpl(const TextEncoderConfig& c)
      : attention(register_module("attention", Attention(c))),
        intermediate(register_module("intermediate", Intermediate(c))),
        output(register_module("output", DenseResidual(c.intermediate_size, c))) {}
  torch::Tensor forward(const torch::Tensor& x, const torch::Tensor& additive_mask) {
    auto a = attention(x, additive_mask);
    return output(intermediate(a), a);
  }
  Attention attention;
  Intermediate intermediate;
  DenseResidual output;
};

}  // namespace text_detail

namespace {

using nlohmann::json;

}  // namespace

void TextEncoderConfig::Validate() const {
  auto fail = [](const std::string& m) { throw ConfigError("text encoder: " + m); };
  if (type != "bert" && type != "roberta" && type != "xlm-roberta") {
    fail("type must be bert, roberta or xlm-roberta, got '" + type + "'");
  }
  if (vocab_size <= 0) fail("vocab_size must be positive (or 0 with a tokenizer), got " + std::to_string(vocab_size));
  if (hidden_size <= 0 || num_attention_heads <= 0 || hidden_size % num_attention_heads != 0) {
    fail("hidden_size (" + std::to_string(hidden_size) + ") must be a positive multiple of num_attention_heads (" +
         std::to_string(num_attention_heads) + ")");
  }
  if (num_hidden_layers < 0) fail("num_hidden_layers must be >= 0");
  if (intermediate_size <= 0) fail("intermediate_size must be positive");
  if (hidden_act != "gelu" && hidden_act != "gelu_new" && hidden_act != "gelu_pytorch_tanh" && hidden_act != "relu" &&
      hidden_act != "silu" && hidden_act != "swish") {
    fail("hidden_act '" + hidden_act + "' is not one of gelu, gelu_new, gelu_pytorch_tanh, relu, silu, swish");
  }
  if (pad_token_id < 0 || pad_token_id >= vocab_size) {
    fail("pad_token_id " + std::to_string(pad_token_id) + " outside the vocabulary");
  }
  const int64_t min_positions = padding_offset_positions() ? pad_token_id + 2 : 1;
  if (max_position_embeddings < min_positions) {
    fail("max_position_embeddings must be at least " + std::to_string(min_positions));
  }
  if (type_vocab_size < 1) fail("type_vocab_size must be at least 1");
  for (double p : {hidden_dropout_prob, attention_probs_dropout_prob}) {
    if (p < 0 || p >= 1) fail("dropout probabilities must be in [0, 1)");
  }
}

TextEncoderConfig ReadHfTextConfig(const std::string& path) {
  std::ifstream in(path);
  if (!in) throw IoError("cannot read HuggingFace config " + path);
  json j;
  try {
    j = json::parse(in);
  } catch (const json::exception& e) {
    throw IoError(path + ": not valid JSON (" + e.what() + ")");
  }
  TextEncoderConfig c;
  std::string model_type;
  ReadJsonField(j, "model_type", model_type, path);
  if (model_type != "bert" && model_type != "roberta" && model_type != "xlm-roberta") {
    throw ConfigError(path + ": model_type '" + model_type + "' is not a text encoder (bert, roberta, xlm-roberta)");
  }
  c.type = model_type;
  // HuggingFace's BertConfig defaults (bert-base), overridden by the file.
  c.vocab_size = model_type == "bert" ? 30522 : 50265;
  c.hidden_size = 768;
  c.num_hidden_layers = 12;
  c.num_attention_heads = 12;
  c.intermediate_size = 3072;
  c.max_position_embeddings = 512;
  c.layer_norm_eps = 1e-12;
  c.pad_token_id = model_type == "bert" ? 0 : 1;
  ReadJsonField(j, "vocab_size", c.vocab_size, path);
  ReadJsonField(j, "hidden_size", c.hidden_size, path);
  ReadJsonField(j, "num_hidden_layers", c.num_hidden_layers, path);
  ReadJsonField(j, "num_attention_heads", c.num_attention_heads, path);
  ReadJsonField(j, "intermediate_size", c.intermediate_size, path);
  ReadJsonField(j, "hidden_act", c.hidden_act, path);
  ReadJsonField(j, "max_position_embeddings", c.max_position_embeddings, path);
  ReadJsonField(j, "type_vocab_size", c.type_vocab_size, path);
  ReadJsonField(j, "layer_norm_eps", c.layer_norm_eps, path);
  ReadJsonField(j, "pad_token_id", c.pad_token_id, path);
  ReadJsonField(j, "hidden_dropout_prob", c.hidden_dropout_prob, path);
  ReadJsonField(j, "attention_probs_dropout_prob", c.attention_probs_dropout_prob, path);
  std::string position_type = "absolute";
  ReadJsonField(j, "position_embedding_type", position_type, path);
  if (position_type != "absolute") {
    throw ConfigError(path + ": position_embedding_type '" + position_type + "' is not supported (absolute only)");
  }
  return c;
}

TextEncoderConfig ResolveTextConfig(const TextEncoderConfig& config) {
  TextEncoderConfig c = config;
  if (!config.hf_config.empty()) {
    c = ReadHfTextConfig(config.hf_config);
    c.hf_config = config.hf_config;
    c.weights = config.weights;
    c.tokenizer = config.tokenizer;
    c.freeze = config.freeze;
  }
  if (!c.tokenizer.empty()) {
    const Tokenizer tok(TokenizerConfig::ForModel(c.tokenizer));
    if (c.vocab_size == 0) {
      c.vocab_size = tok.vocab_size();
      c.pad_token_id = tok.pad_id();
    } else if (tok.vocab_size() > c.vocab_size || tok.pad_id() != c.pad_token_id) {
      throw ConfigError("text encoder: tokenizer " + c.tokenizer + " (vocabulary " +
                        std::to_string(tok.vocab_size()) + ", <pad> " + std::to_string(tok.pad_id()) +
                        ") does not fit the encoder (vocab_size " + std::to_string(c.vocab_size) +
                        ", pad_token_id " + std::to_string(c.pad_token_id) + ")");
    }
  }
  if (c.vocab_size == 0) throw ConfigError("text encoder: vocab_size is 0 and no tokenizer is given to take it from");
  return c;
}

const NameMap& TextNameMap() {
  static const NameMap map{
      /*strip_prefixes=*/{"bert.", "roberta."},
      /*aliases=*/{},
      /*skip=*/
      {"*pooler.dense.*", "cls.*", "lm_head.*", "classifier.*", "qa_outputs.*", "*embeddings.position_ids",
       "*embeddings.token_type_ids"},
      /*optional=*/{}};
  return map;
}

TextEncoderImpl::TextEncoderImpl(const TextEncoderConfig& config) : config_(config) {
  config_.Validate();
  embeddings_ = register_module("embeddings", std::make_shared<text_detail::EmbeddingsImpl>(config_));
  auto encoder = register_module("encoder", std::make_shared<torch::nn::Module>());
  layers_ = encoder->register_module("layer", torch::nn::ModuleList());
  for (int64_t i = 0; i < config_.num_hidden_layers; ++i) {
    layers_->push_back(std::make_shared<text_detail::LayerImpl>(config_));
  }
  // HuggingFace's _init_weights: N(0, 0.02) weights, zero biases, unit LayerNorms, a zero padding embedding.
  torch::NoGradGuard no_grad;
  for (auto& p : named_parameters()) {
    const std::string& name = p.key();
    if (name.find("LayerNorm") != std::string::npos) {
      p.value().fill_(name.size() >= 6 && name.compare(name.size() - 6, 6, "weight") == 0 ? 1.0 : 0.0);
    } else if (name.size() >= 4 && name.compare(name.size() - 4, 4, "bias") == 0) {
      p.value().zero_();
    } else {
      p.value().normal_(0.0, 0.02);
    }
  }
  embeddings_->word_embeddings->weight[config_.pad_token_id].zero_();
}

torch::Tensor TextEncoderImpl::PositionIds(const torch::Tensor& input_ids) const {
  if (!config_.padding_offset_positions()) {
    return torch::arange(input_ids.size(1), input_ids.options().dtype(torch::kInt64)).expand_as(input_ids);
  }
  auto real = input_ids.ne(config_.pad_token_id).to(torch::kInt64);
  return torch::cumsum(real, 1) * real + config_.pad_token_id;
}

EncoderOutput TextEncoderImpl::Encode(const EncoderInput& input) { return forward(input.input_ids, input.attention_mask); }

EncoderOutput TextEncoderImpl::forward(const torch::Tensor& input_ids_in, const torch::Tensor& attention_mask) {
  if (!input_ids_in.defined() || input_ids_in.dim() != 2) {
    throw DataError("text encoder: input_ids must be a [batch, tokens] tensor");
  }
  const auto device = embeddings_->word_embeddings->weight.device();
  auto ids = input_ids_in.to(device, torch::kInt64);
  if (ids.numel() > 0) {
    const int64_t lo = ids.min().item<int64_t>(), hi = ids.max().item<int64_t>();
    if (lo < 0 || hi >= config_.vocab_size) {
      throw DataError("text encoder: token id " + std::to_string(lo < 0 ? lo : hi) + " outside the vocabulary [0, " +
                      std::to_string(config_.vocab_size) + ")");
    }
  }
  auto positions = PositionIds(ids);
  if (ids.numel() > 0 && positions.max().item<int64_t>() >= config_.max_position_embeddings) {
    throw DataError("text encoder: " + std::to_string(ids.size(1)) + " tokens exceed max_position_embeddings " +
                    std::to_string(config_.max_position_embeddings) + " (truncate with the tokenizer's max_length)");
  }
  torch::Tensor mask;
  if (attention_mask.defined()) {
    if (attention_mask.sizes() != ids.sizes()) {
      throw DataError("text encoder: attention_mask shape differs from input_ids");
    }
    mask = attention_mask.to(device).ne(0);
  } else {
    mask = torch::ones_like(ids, torch::kBool);
  }
  const auto dtype = embeddings_->word_embeddings->weight.scalar_type();
  // HuggingFace's extended mask: the lowest finite float on padded keys (not -inf, so a row of padding stays finite).
  auto additive = (~mask).to(dtype).mul(std::numeric_limits<float>::lowest()).unsqueeze(1).unsqueeze(2);

  EncoderOutput out;
  auto x = embeddings_->forward(ids, positions);
  out.hidden_states.push_back(x);
  for (const auto& layer : *layers_) {
    x = layer->as<text_detail::LayerImpl>()->forward(x, additive);
    out.hidden_states.push_back(x);
  }
  out.mask = mask;
  out.lengths = mask.sum(1).to(torch::kInt64);
  return out;
}

LoadReport TextEncoderImpl::LoadWeights(const std::string& safetensors_path) {
  return LoadStateDict(*this, safetensors_path, TextNameMap());
}

TextEncoder CreateTextEncoder(const TextEncoderConfig& config) {
  return BuildEncoder<TextEncoder>(ResolveTextConfig(config));
}

}  // namespace fas

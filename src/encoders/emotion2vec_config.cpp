// Emotion2VecConfig: validation, FunASR's config.yaml, our config.json, the checkpoint-name table.
#include <algorithm>
#include <array>
#include <cctype>
#include <cstdlib>
#include <fstream>
#include <nlohmann/json.hpp>
#include <type_traits>

#include "fas/config/node.h"
#include "fas/core/error.h"
#include "fas/encoders/emotion2vec.h"
#include "fas/io/json_value.h"

namespace fas {
namespace {

using json = nlohmann::json;

// Every architecture field once, with the model_conf section FunASR keeps it in ("" = model_conf itself,
// "audio" = model_conf.modalities.audio). feature_encoder_spec is read apart: it is a Python expression.
template <class C, class V>
void VisitFields(C& c, V&& v) {
  v("embed_dim", c.embed_dim, "");
  v("depth", c.depth, "");
  v("num_heads", c.num_heads, "");
  v("mlp_ratio", c.mlp_ratio, "");
  v("norm_eps", c.norm_eps, "");
  v("norm_affine", c.norm_affine, "");
  v("layer_norm_first", c.layer_norm_first, "");
  v("normalize", c.normalize, "");
  v("extractor_mode", c.extractor_mode, "audio");
  v("prenet_depth", c.prenet_depth, "audio");
  v("num_extra_tokens", c.num_extra_tokens, "audio");
  v("conv_pos_width", c.conv_pos_width, "audio");
  v("conv_pos_groups", c.conv_pos_groups, "audio");
  v("conv_pos_depth", c.conv_pos_depth, "audio");
  v("conv_pos_pre_ln", c.conv_pos_pre_ln, "audio");
  v("use_alibi_encoder", c.use_alibi_encoder, "audio");
  v("num_alibi_heads", c.num_alibi_heads, "audio");
  v("learned_alibi", c.learned_alibi, "audio");
  v("learned_alibi_scale_per_head", c.learned_alibi_scale_per_head, "audio");
  v("learned_alibi_scale_per_layer", c.learned_alibi_scale_per_layer, "audio");
  v("alibi_scale", c.alibi_scale, "audio");
}

void Require(bool ok, const std::string& message) {
  if (!ok) throw ConfigError("emotion2vec: " + message);
}

// A YAML scalar into a field of the config, or a ConfigError naming where it was written.
void FromScalar(const ConfigNode& node, const std::string&, std::string& out) { out = node.scalar; }
void FromScalar(const ConfigNode& node, const std::string& key, bool& out) {
  if (node.scalar != "true" && node.scalar != "false" && node.scalar != "True" && node.scalar != "False") {
    throw ConfigError(node.Where() + ": '" + key + "' must be true or false (got '" + node.scalar + "')");
  }
  out = node.scalar == "true" || node.scalar == "True";
}
template <class T>
void FromScalar(const ConfigNode& node, const std::string& key, T& out) {
  const char* begin = node.scalar.c_str();
  char* end = nullptr;
  const double d = std::strtod(begin, &end);
  const bool whole = end != begin && *end == '\0';
  if (!whole || (std::is_integral_v<T> && d != static_cast<double>(static_cast<int64_t>(d)))) {
    throw ConfigError(node.Where() + ": '" + key + "' must be a number (got '" + node.scalar + "')");
  }
  out = static_cast<T>(d);
}

[[noreturn]] void SpecError(const std::string& spec, const std::string& why) {
  throw ConfigError("emotion2vec: feature_encoder_spec '" + spec + "': " + why +
                    " (expected terms like [(512, 10, 5)] or [(512, 3, 2)] * 4 joined by +)");
}

}  // namespace

void Emotion2VecConfig::Validate() const {
  Require(!conv_dim.empty() && conv_dim.size() == conv_kernel.size() && conv_dim.size() == conv_stride.size(),
          "conv_dim, conv_kernel and conv_stride must be non-empty and of one length");
  for (size_t i = 0; i < conv_dim.size(); ++i) {
    Require(conv_dim[i] > 0 && conv_kernel[i] > 0 && conv_stride[i] > 0, "conv layers must be positive");
  }
  Require(extractor_mode == "layer_norm",
          "extractor_mode '" + extractor_mode + "' is not supported (emotion2vec and data2vec 2.0 use layer_norm)");
  Require(embed_dim > 0 && depth > 0 && prenet_depth >= 0 && num_heads > 0 && embed_dim % num_heads == 0,
          "embed_dim, depth and num_heads must be positive, prenet_depth >= 0, embed_dim divisible by num_heads");
  Require(mlp_ratio > 0 && norm_eps > 0 && num_extra_tokens >= 0, "mlp_ratio and norm_eps must be positive");
  // The published pre-LN block drops its feed-forward residual (x = 2 * mlp(norm2(x))); no released emotion2vec
  // model uses it, so it is refused rather than reproduced.
  Require(!layer_norm_first, "layer_norm_first: true is not supported (every released emotion2vec model is post-LN)");
  Require(norm_affine, "norm_affine: false is not supported (the released models have affine LayerNorms)");
  Require(conv_pos_depth > 0 && conv_pos_width > 0 && conv_pos_groups > 0 && embed_dim % conv_pos_groups == 0,
          "conv_pos_depth and conv_pos_width must be positive and conv_pos_groups must divide embed_dim");
  Require(!conv_pos_pre_ln, "conv_pos_pre_ln: true is not supported (the released models have none)");
  Require(!learned_alibi, "learned_alibi: true is not supported (the released models use fixed ALiBi slopes)");
  Require(!use_alibi_encoder || num_alibi_heads == num_heads, "num_alibi_heads (" + std::to_string(num_alibi_heads) +
                                                                  ") must equal num_heads (" +
                                                                  std::to_string(num_heads) + ")");
}

int64_t Emotion2VecConfig::PositionalKernel() const { return std::max<int64_t>(3, conv_pos_width / conv_pos_depth); }

int64_t Emotion2VecConfig::ReceptiveField() const {
  int64_t r = 1;
  for (size_t i = conv_kernel.size(); i-- > 0;) r = (r - 1) * conv_stride[i] + conv_kernel[i];
  return r;
}

void ParseFeatureEncoderSpec(const std::string& spec, Emotion2VecConfig& config) {
  std::string s;
  for (char ch : spec) {
    if (!std::isspace(static_cast<unsigned char>(ch))) s += ch;
  }
  std::vector<int64_t> dim, kernel, stride;
  size_t p = 0;
  auto number = [&]() -> int64_t {
    size_t q = p;
    while (q < s.size() && std::isdigit(static_cast<unsigned char>(s[q]))) ++q;
    if (q == p || q - p > 9) SpecError(spec, "a number was expected at position " + std::to_string(p));
    const int64_t v = std::stoll(s.substr(p, q - p));
    p = q;
    return v;
  };
  auto expect = [&](char ch) {
    if (p >= s.size() || s[p] != ch) SpecError(spec, std::string("'") + ch + "' was expected");
    ++p;
  };
  while (true) {
    expect('[');
    std::vector<std::array<int64_t, 3>> term;
    while (true) {
      expect('(');
      std::array<int64_t, 3> layer{};
      for (int k = 0; k < 3; ++k) {
        if (k > 0) expect(',');
        layer[k] = number();
      }
      expect(')');
      term.push_back(layer);
      if (p < s.size() && s[p] == ',') {
        ++p;
        continue;
      }
      break;
    }
    expect(']');
    int64_t repeat = 1;
    if (p < s.size() && s[p] == '*') {
      ++p;
      repeat = number();
      if (repeat < 1 || repeat > 64) SpecError(spec, "a repeat count must be in 1..64");
    }
    for (int64_t r = 0; r < repeat; ++r) {
      for (const auto& layer : term) {
        dim.push_back(layer[0]);
        kernel.push_back(layer[1]);
        stride.push_back(layer[2]);
      }
    }
    if (p == s.size()) break;
    expect('+');
  }
  config.conv_dim = dim;
  config.conv_kernel = kernel;
  config.conv_stride = stride;
}

Emotion2VecConfig ReadFunAsrEmotion2VecConfig(const std::string& config_yaml) {
  const ConfigNode root = LoadYamlFile(config_yaml);
  const ConfigNode* model = root.Find("model_conf");
  if (model == nullptr || model->kind != ConfigNode::Kind::kMap) {
    throw ConfigError(config_yaml + ": no model_conf section (is this FunASR's config.yaml of an emotion2vec model?)");
  }
  const ConfigNode* modalities = model->Find("modalities");
  const ConfigNode* audio = modalities ? modalities->Find("audio") : nullptr;
  if (audio == nullptr || audio->kind != ConfigNode::Kind::kMap) {
    throw ConfigError(config_yaml + ": no model_conf.modalities.audio section (not an emotion2vec config)");
  }
  Emotion2VecConfig c;
  VisitFields(c, [&](const char* key, auto& field, const std::string& section) {
    const ConfigNode* node = (section.empty() ? model : audio)->Find(key);
    if (node != nullptr && node->kind == ConfigNode::Kind::kScalar) FromScalar(*node, key, field);
  });
  if (const ConfigNode* spec = audio->Find("feature_encoder_spec"); spec != nullptr) {
    ParseFeatureEncoderSpec(spec->scalar, c);
  }
  try {
    c.Validate();
  } catch (const ConfigError& e) {
    throw ConfigError(config_yaml + ": " + e.what());
  }
  return c;
}

Emotion2VecConfig ReadEmotion2VecConfig(const std::string& config_json) {
  std::ifstream in(config_json);
  if (!in)
    throw ConfigError(config_json + ": cannot open the emotion2vec config (write it with fas convert emotion2vec)");
  json j;
  try {
    j = json::parse(in);
  } catch (const json::exception& e) {
    throw ConfigError(config_json + ": not valid JSON (" + e.what() + ")");
  }
  std::string model_type;
  ReadJsonField(j, "model_type", model_type, config_json);
  if (model_type != "emotion2vec") {
    throw ConfigError(config_json + ": model_type '" + model_type + "' is not emotion2vec");
  }
  Emotion2VecConfig c;
  ReadJsonField(j, "conv_dim", c.conv_dim, config_json);
  ReadJsonField(j, "conv_kernel", c.conv_kernel, config_json);
  ReadJsonField(j, "conv_stride", c.conv_stride, config_json);
  VisitFields(c, [&](const char* key, auto& field, const std::string&) { ReadJsonField(j, key, field, config_json); });
  try {
    c.Validate();
  } catch (const ConfigError& e) {
    throw ConfigError(config_json + ": " + e.what());
  }
  return c;
}

void WriteEmotion2VecConfig(const Emotion2VecConfig& config, const std::string& config_json) {
  json j;
  j["model_type"] = "emotion2vec";
  j["conv_dim"] = config.conv_dim;
  j["conv_kernel"] = config.conv_kernel;
  j["conv_stride"] = config.conv_stride;
  VisitFields(config, [&](const char* key, const auto& field, const std::string&) { j[key] = field; });
  std::ofstream out(config_json);
  out << j.dump(2) << "\n";
  if (!out) throw IoError(config_json + ": cannot write");
}

const NameMap& Emotion2VecNameMap() {
  static const NameMap map = {
      {"module.", "d2v_model."},
      {},
      // The pretraining decoder, the EMA teacher and the fine-tuned models' classifier are not the encoder.
      {"modality_encoders.AUDIO.decoder.*", "_ema*", "ema.*", "proj.*", "module.modality_encoders.AUDIO.decoder.*",
       "module._ema*", "module.proj.*", "d2v_model.modality_encoders.AUDIO.decoder.*", "d2v_model._ema*"},
      {},
  };
  return map;
}

}  // namespace fas

// AcousticEncoderConfig: validation, HuggingFace config.json, and the family's checkpoint-name table.
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "fas/core/error.h"
#include "fas/encoders/kernels.h"
#include "fas/encoders/wav2vec2.h"
#include "fas/io/json_value.h"

namespace fas {
namespace {

using json = nlohmann::json;

void Require(bool ok, const std::string& message) {
  if (!ok) throw ConfigError("acoustic encoder: " + message);
}

// HuggingFace's Wav2Vec2Config / HubertConfig / WavLMConfig defaults (the base model).
AcousticEncoderConfig HfDefaults(const std::string& model_type) {
  AcousticEncoderConfig c;
  c.type = model_type;
  c.conv_dim = {512, 512, 512, 512, 512, 512, 512};
  c.conv_kernel = {10, 3, 3, 3, 3, 2, 2};
  c.conv_stride = {5, 2, 2, 2, 2, 2, 2};
  c.conv_bias = false;
  c.feat_extract_norm = "group";
  c.feat_extract_activation = "gelu";
  c.feat_proj_layer_norm = true;
  c.do_stable_layer_norm = false;
  c.num_conv_pos_embeddings = 128;
  c.num_conv_pos_embedding_groups = 16;
  c.hidden_size = 768;
  c.num_hidden_layers = 12;
  c.num_attention_heads = 12;
  c.intermediate_size = 3072;
  c.hidden_act = "gelu";
  c.layer_norm_eps = 1e-5;
  c.num_buckets = 320;
  c.max_bucket_distance = 800;
  c.hidden_dropout = 0.1;
  c.attention_dropout = 0.1;
  c.activation_dropout = 0.1;
  c.feat_proj_dropout = 0.0;
  c.layerdrop = 0.1;
  c.mask_time_prob = 0.05;
  c.mask_time_length = 10;
  c.mask_feature_prob = 0.0;
  c.mask_feature_length = 10;
  return c;
}

}  // namespace

void AcousticEncoderConfig::Validate() const {
  Require(type == "wav2vec2" || type == "hubert" || type == "wavlm",
          "type must be wav2vec2, hubert or wavlm (got '" + type + "')");
  Require(freeze == "none" || freeze == "feature_extractor" || freeze == "all",
          "freeze must be none, feature_extractor or all (got '" + freeze + "')");
  Require(unfreeze_after_steps >= 0, "unfreeze_after_steps must be >= 0");
  fas::kernels::CheckKernels(kernels, "acoustic encoder: kernels");
  Require(feature_extractor == "conv" || feature_extractor == "fbank",
          "feature_extractor must be conv or fbank (got '" + feature_extractor + "')");
  Require(fbank_bins > 0 && fbank_stack > 0, "fbank_bins and fbank_stack must be positive");
  Require(!conv_dim.empty(), "conv_dim must not be empty");
  Require(conv_dim.size() == conv_kernel.size() && conv_dim.size() == conv_stride.size(),
          "conv_dim, conv_kernel and conv_stride must have the same length (" + std::to_string(conv_dim.size()) +
              ", " + std::to_string(conv_kernel.size()) + ", " + std::to_string(conv_stride.size()) + ")");
  for (size_t i = 0; i < conv_dim.size(); ++i) {
    Require(conv_dim[i] > 0 && conv_kernel[i] > 0 && conv_stride[i] > 0,
            "conv_dim, conv_kernel and conv_stride must be positive (layer " + std::to_string(i) + ")");
  }
  Require(feat_extract_norm == "group" || feat_extract_norm == "layer",
          "feat_extract_norm must be group or layer (got '" + feat_extract_norm + "')");
  Require(hidden_size > 0 && num_hidden_layers > 0 && num_attention_heads > 0 && intermediate_size > 0,
          "hidden_size, num_hidden_layers, num_attention_heads and intermediate_size must be positive");
  Require(hidden_size % num_attention_heads == 0, "hidden_size (" + std::to_string(hidden_size) +
                                                      ") must be divisible by num_attention_heads (" +
                                                      std::to_string(num_attention_heads) + ")");
  Require(num_conv_pos_embeddings > 0 && num_conv_pos_embedding_groups > 0 &&
              hidden_size % num_conv_pos_embedding_groups == 0,
          "num_conv_pos_embedding_groups must divide hidden_size");
  Require(layer_norm_eps > 0, "layer_norm_eps must be positive");
  if (type == "wavlm") {
    Require(num_buckets >= 4 && max_bucket_distance > num_buckets / 4,
            "num_buckets must be >= 4 and max_bucket_distance > num_buckets / 4");
  }
  for (double p : {hidden_dropout, attention_dropout, activation_dropout, feat_proj_dropout, layerdrop, mask_time_prob,
                   mask_feature_prob}) {
    Require(p >= 0 && p < 1, "dropout, layerdrop and mask probabilities must be in [0, 1)");
  }
  Require(mask_time_length > 0 && mask_feature_length > 0, "mask_time_length and mask_feature_length must be positive");
  for (const auto& act : {hidden_act, feat_extract_activation}) {
    Require(act == "gelu" || act == "gelu_new" || act == "gelu_pytorch_tanh" || act == "relu" || act == "swish" ||
                act == "silu",
            "unsupported activation '" + act + "' (gelu, gelu_new, relu, swish)");
  }
}

int64_t AcousticEncoderConfig::FrameStride() const {
  if (feature_extractor == "fbank") return kFbankHop * fbank_stack;
  int64_t s = 1;
  for (auto v : conv_stride) s *= v;
  return s;
}

int64_t AcousticEncoderConfig::ReceptiveField() const {
  if (feature_extractor == "fbank") return kFbankWindow + kFbankHop * (fbank_stack - 1);
  // Walking back from one output frame: r <- (r - 1) * stride + kernel.
  int64_t r = 1;
  for (size_t i = conv_kernel.size(); i-- > 0;) r = (r - 1) * conv_stride[i] + conv_kernel[i];
  return r;
}

int64_t AcousticEncoderConfig::FeatureDim() const {
  return feature_extractor == "fbank" ? fbank_bins * fbank_stack : conv_dim.back();
}

AcousticEncoderConfig ReadHfAcousticConfig(const std::string& path) {
  std::ifstream in(path);
  if (!in) throw ConfigError(path + ": cannot open HuggingFace config");
  json j;
  try {
    j = json::parse(in);
  } catch (const json::exception& e) {
    throw ConfigError(path + ": not valid JSON (" + e.what() + ")");
  }
  if (!j.is_object()) throw ConfigError(path + ": a HuggingFace config must be a JSON object");
  std::string model_type;
  ReadJsonField(j, "model_type", model_type, path);
  if (model_type != "wav2vec2" && model_type != "hubert" && model_type != "wavlm") {
    throw ConfigError(path + ": model_type '" + model_type + "' is not an acoustic encoder (wav2vec2, hubert, wavlm)");
  }
  AcousticEncoderConfig c = HfDefaults(model_type);
  ReadJsonField(j, "fas_feature_extractor", c.feature_extractor, path);
  ReadJsonField(j, "fas_fbank_bins", c.fbank_bins, path);
  ReadJsonField(j, "fas_fbank_stack", c.fbank_stack, path);
  ReadJsonField(j, "conv_dim", c.conv_dim, path);
  ReadJsonField(j, "conv_kernel", c.conv_kernel, path);
  ReadJsonField(j, "conv_stride", c.conv_stride, path);
  ReadJsonField(j, "conv_bias", c.conv_bias, path);
  ReadJsonField(j, "feat_extract_norm", c.feat_extract_norm, path);
  ReadJsonField(j, "feat_extract_activation", c.feat_extract_activation, path);
  ReadJsonField(j, "feat_proj_layer_norm", c.feat_proj_layer_norm, path);
  ReadJsonField(j, "do_stable_layer_norm", c.do_stable_layer_norm, path);
  ReadJsonField(j, "num_conv_pos_embeddings", c.num_conv_pos_embeddings, path);
  ReadJsonField(j, "num_conv_pos_embedding_groups", c.num_conv_pos_embedding_groups, path);
  ReadJsonField(j, "hidden_size", c.hidden_size, path);
  ReadJsonField(j, "num_hidden_layers", c.num_hidden_layers, path);
  ReadJsonField(j, "num_attention_heads", c.num_attention_heads, path);
  ReadJsonField(j, "intermediate_size", c.intermediate_size, path);
  ReadJsonField(j, "hidden_act", c.hidden_act, path);
  ReadJsonField(j, "layer_norm_eps", c.layer_norm_eps, path);
  ReadJsonField(j, "num_buckets", c.num_buckets, path);
  ReadJsonField(j, "max_bucket_distance", c.max_bucket_distance, path);
  ReadJsonField(j, "hidden_dropout", c.hidden_dropout, path);
  ReadJsonField(j, "attention_dropout", c.attention_dropout, path);
  ReadJsonField(j, "activation_dropout", c.activation_dropout, path);
  ReadJsonField(j, "feat_proj_dropout", c.feat_proj_dropout, path);
  ReadJsonField(j, "layerdrop", c.layerdrop, path);
  ReadJsonField(j, "mask_time_prob", c.mask_time_prob, path);
  ReadJsonField(j, "mask_time_length", c.mask_time_length, path);
  ReadJsonField(j, "mask_feature_prob", c.mask_feature_prob, path);
  ReadJsonField(j, "mask_feature_length", c.mask_feature_length, path);
  int64_t num_feat_extract_layers = static_cast<int64_t>(c.conv_dim.size());
  ReadJsonField(j, "num_feat_extract_layers", num_feat_extract_layers, path);
  if (num_feat_extract_layers != static_cast<int64_t>(c.conv_dim.size())) {
    throw ConfigError(path + ": num_feat_extract_layers disagrees with conv_dim");
  }
  // Variants whose modules the bare family does not have: refuse rather than load something else.
  for (const char* flag : {"conv_pos_batch_norm", "add_adapter", "use_weighted_layer_sum_in_model"}) {
    bool on = false;
    if (j.contains(flag) && j[flag].is_boolean()) on = j[flag].get<bool>();
    if (on) throw ConfigError(path + ": '" + flag + "' is not supported by this implementation");
  }
  try {
    c.Validate();
  } catch (const ConfigError& e) {
    throw ConfigError(path + ": " + e.what());
  }
  return c;
}

AcousticEncoderConfig ResolveAcousticConfig(const AcousticEncoderConfig& config) {
  if (config.hf_config.empty()) {
    config.Validate();
    return config;
  }
  AcousticEncoderConfig c = ReadHfAcousticConfig(config.hf_config);
  c.hf_config = config.hf_config;
  c.weights = config.weights;
  c.freeze = config.freeze;
  c.unfreeze_after_steps = config.unfreeze_after_steps;
  c.kernels = config.kernels;
  c.Validate();
  return c;
}

const NameMap& AcousticNameMap() {
  static const NameMap map = {
      // ForCTC / ForSequenceClassification / ForPreTraining checkpoints nest the bare model under these.
      {"wav2vec2.", "hubert.", "wavlm."},
      // transformers >= 4.31 saves torch.nn.utils.parametrizations.weight_norm's names.
      {{"parametrizations.weight.original0", "weight_g"}, {"parametrizations.weight.original1", "weight_v"}},
      // Heads and pretraining-only modules the bare encoder does not have.
      {"lm_head.*", "quantizer.*", "project_q.*", "project_hid.*", "final_proj.*", "label_embeddings_concat",
       "projector.*", "classifier.*", "masked_spec_embed", "layer_weights", "tdnn.*", "objective.*"},
      // Absent from checkpoints saved with mask_time_prob = 0.
      {"masked_spec_embed"},
  };
  return map;
}

}  // namespace fas

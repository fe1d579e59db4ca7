// The wav2vec2 family (wav2vec2, HuBERT, WavLM) as one module whose registered parameter names equal
// HuggingFace's bare `Wav2Vec2Model` / `HubertModel` / `WavLMModel`, so hub checkpoints (model.safetensors +
// config.json) load as they are. The members differ by configuration only:
//   feat_extract_norm      group (GroupNorm on the first conv only) | layer (LayerNorm after every conv)
//   feat_proj_layer_norm   HuBERT may drop the LayerNorm in front of the feature projection
//   do_stable_layer_norm   false: post-LN layers, LayerNorm after the positional conv ("base");
//                          true: pre-LN layers, LayerNorm after the last layer ("large")
//   type wavlm             gated relative position bias (bucketed; the embedding lives in layer 0, shared)
//
// FAS extension: `feature_extractor: fbank` replaces the conv front end by log-mel filterbank features (25 ms
// window, 10 ms hop, `fbank_bins` Slaney mel bins, natural log), `fbank_stack` consecutive frames concatenated
// into one (stride 10 ms x stack), feeding the same feature projection and transformer. It has no parameters of
// its own and no HuggingFace equivalent (config.json carries it in fas_* keys). A from-scratch model learns from
// far less audio with it than with convs on the raw waveform (docs/asr.md).
#pragma once

#include <torch/torch.h>

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "fas/encoders/encoder.h"
#include "fas/io/state_dict.h"

namespace fas {

struct AcousticEncoderConfig {
  std::string type = "wav2vec2";  // wav2vec2 | hubert | wavlm
  // A HuggingFace config.json. When set, the architecture is exactly that file's (absent fields take
  // HuggingFace's defaults for its model_type), replacing the architecture fields below; `type` follows its
  // model_type.
  std::string hf_config;
  std::string weights;  // safetensors with HuggingFace names; empty = random initialisation
  std::string freeze = "none";       // none | feature_extractor | all
  int64_t unfreeze_after_steps = 0;  // > 0: after this many steps, all -> feature_extractor, feature_extractor -> none
  // auto | reference (the plain modules only, no CPU speed route); FAS_KERNELS overrides it (fas/encoders/kernels.h).
  std::string kernels = "auto";

  std::string feature_extractor = "conv";  // conv (HuggingFace's) | fbank (FAS: log-mel, no parameters)
  int64_t fbank_bins = 80;                 // feature_extractor: fbank
  int64_t fbank_stack = 2;                 // feature_extractor: fbank: frames stacked into one (x 10 ms stride)
  static constexpr int64_t kFbankWindow = 400, kFbankHop = 160;  // 25 ms / 10 ms at 16 kHz

  // Architecture, in HuggingFace Wav2Vec2Config's names. Defaults: a small model that trains on a laptop.
  std::vector<int64_t> conv_dim = {256, 256, 256, 256, 256, 256, 256};
  std::vector<int64_t> conv_kernel = {10, 3, 3, 3, 3, 2, 2};
  std::vector<int64_t> conv_stride = {5, 2, 2, 2, 2, 2, 2};
  bool conv_bias = false;
  std::string feat_extract_norm = "group";
  std::string feat_extract_activation = "gelu";
  bool feat_proj_layer_norm = true;
  bool do_stable_layer_norm = false;
  int64_t num_conv_pos_embeddings = 128;
  int64_t num_conv_pos_embedding_groups = 16;
  int64_t hidden_size = 256;
  int64_t num_hidden_layers = 4;
  int64_t num_attention_heads = 4;
  int64_t intermediate_size = 1024;
  std::string hidden_act = "gelu";
  double layer_norm_eps = 1e-5;
  int64_t num_buckets = 320;          // WavLM
  int64_t max_bucket_distance = 800;  // WavLM
  double hidden_dropout = 0.1;
  double attention_dropout = 0.1;
  double activation_dropout = 0.0;
  double feat_proj_dropout = 0.0;
  double layerdrop = 0.0;  // never applied while a layer-weighted sum reads the hidden states
  // SpecAugment in training, as HuggingFace: spans of mask_time_length frames replaced by the learned
  // `masked_spec_embed` (the parameter exists when either probability is positive), and spans of
  // mask_feature_length channels zeroed.
  double mask_time_prob = 0.05;
  int64_t mask_time_length = 10;
  double mask_feature_prob = 0.0;
  int64_t mask_feature_length = 10;

  template <class V>
  void Visit(V& v) {
    v("type", type, "wav2vec2 | hubert | wavlm");
    v("hf_config", hf_config, "HuggingFace config.json (its architecture replaces the fields below)");
    v("weights", weights, "safetensors with HuggingFace tensor names; empty = random init");
    v("freeze", freeze, "none | feature_extractor | all");
    v("unfreeze_after_steps", unfreeze_after_steps, "> 0: relax freezing one step after this many steps");
    v("kernels", kernels, "auto (CPU speed routes where they apply) | reference (plain modules); FAS_KERNELS wins");
    v("feature_extractor", feature_extractor, "conv (HuggingFace) | fbank (log-mel front end, FAS extension)");
    v("fbank_bins", fbank_bins, "feature_extractor: fbank: mel bins");
    v("fbank_stack", fbank_stack, "feature_extractor: fbank: 10 ms frames concatenated into one");
    v("conv_dim", conv_dim);
    v("conv_kernel", conv_kernel);
    v("conv_stride", conv_stride);
    v("conv_bias", conv_bias);
    v("feat_extract_norm", feat_extract_norm, "group | layer");
    v("feat_extract_activation", feat_extract_activation);
    v("feat_proj_layer_norm", feat_proj_layer_norm);
    v("do_stable_layer_norm", do_stable_layer_norm, "pre-LN transformer (large models)");
    v("num_conv_pos_embeddings", num_conv_pos_embeddings);
    v("num_conv_pos_embedding_groups", num_conv_pos_embedding_groups);
    v("hidden_size", hidden_size);
    v("num_hidden_layers", num_hidden_layers);
    v("num_attention_heads", num_attention_heads);
    v("intermediate_size", intermediate_size);
    v("hidden_act", hidden_act, "gelu | gelu_new | relu | swish");
    v("layer_norm_eps", layer_norm_eps);
    v("num_buckets", num_buckets, "WavLM relative position buckets");
    v("max_bucket_distance", max_bucket_distance, "WavLM");
    v("hidden_dropout", hidden_dropout);
    v("attention_dropout", attention_dropout);
    v("activation_dropout", activation_dropout);
    v("feat_proj_dropout", feat_proj_dropout);
    v("layerdrop", layerdrop);
    v("mask_time_prob", mask_time_prob);
    v("mask_time_length", mask_time_length);
    v("mask_feature_prob", mask_feature_prob);
    v("mask_feature_length", mask_feature_length);
  }

  // Throws ConfigError naming the first bad field.
  void Validate() const;
  // Total stride and receptive field of the front end, in samples.
  int64_t FrameStride() const;
  int64_t ReceptiveField() const;
  // Channels of one front-end frame: conv_dim.back(), or fbank_bins * fbank_stack.
  int64_t FeatureDim() const;
};

// A HuggingFace config.json (model_type wav2vec2, hubert or wavlm) as our config; the fields it lacks take
// HuggingFace's defaults. Throws ConfigError naming the file and field.
AcousticEncoderConfig ReadHfAcousticConfig(const std::string& path);
// Replaces the architecture of `config` by the one in config.hf_config, if set; keeps weights / freeze / kernels.
AcousticEncoderConfig ResolveAcousticConfig(const AcousticEncoderConfig& config);

// The checkpoint-name table of the family: prefixes `wav2vec2.` / `hubert.` / `wavlm.`, both weight-norm
// spellings, the heads a pretraining or CTC checkpoint carries and the bare model does not.
const NameMap& AcousticNameMap();

namespace wav2vec2_detail {
class FeatureEncoderImpl;
class FeatureProjectionImpl;
class TransformerEncoderImpl;
}  // namespace wav2vec2_detail

// Registers feature_extractor, feature_projection, encoder and masked_spec_embed itself, so its names are
// HuggingFace's without a prefix.
class AcousticEncoderImpl : public EncoderModule {
 public:
  explicit AcousticEncoderImpl(const AcousticEncoderConfig& config);

  // waveform [B, T] float, lengths [B] int64 samples (undefined = all T).
  EncoderOutput Encode(const EncoderInput& input) override;
  EncoderOutput forward(const torch::Tensor& waveform, const torch::Tensor& lengths = {});
  int64_t hidden_size() const override { return config_.hidden_size; }
  int64_t num_layers() const override { return config_.num_hidden_layers; }

  // Frame counts for sample counts ([B] int64), as HuggingFace's _get_feat_extract_output_lengths.
  torch::Tensor FrameLengths(const torch::Tensor& sample_lengths) const;

  // Strict load (AcousticNameMap); throws ModelError naming the tensor.
  LoadReport LoadWeights(const std::string& safetensors_path);

  // none | feature_extractor | all; frozen parts get requires_grad false and run without autograd.
  void SetFreeze(const std::string& mode);
  const std::string& freeze() const { return freeze_; }
  // Call once a training step: relaxes freezing by one level (all -> feature_extractor -> none) once, when
  // config.unfreeze_after_steps is reached.
  void OnTrainStep(int64_t step);
  // LayerDrop would make hidden states repeat at random: a layer-weighted sum must turn it off.
  void DisableLayerDrop() { layerdrop_enabled_ = false; }

  const AcousticEncoderConfig& config() const { return config_; }

 private:
  torch::Tensor SpecAugment(const torch::Tensor& hidden, const torch::Tensor& frame_lengths);
  // feature_extractor: fbank: [B, T] -> [B, frames, fbank_bins * fbank_stack] (float32).
  torch::Tensor Fbank(const torch::Tensor& waveform) const;

  AcousticEncoderConfig config_;
  std::string freeze_ = "none";
  bool layerdrop_enabled_ = true;
  bool unfrozen_ = false;
  std::shared_ptr<wav2vec2_detail::FeatureEncoderImpl> feature_extractor_;
  std::shared_ptr<wav2vec2_detail::FeatureProjectionImpl> feature_projection_;
  std::shared_ptr<wav2vec2_detail::TransformerEncoderImpl> encoder_;
  torch::Tensor masked_spec_embed_;
};
TORCH_MODULE(AcousticEncoder);

// Builds the encoder a config names: resolves hf_config, validates, loads weights if given, applies freeze.
// Throws ConfigError / ModelError.
AcousticEncoder CreateAcousticEncoder(const AcousticEncoderConfig& config);

}  // namespace fas

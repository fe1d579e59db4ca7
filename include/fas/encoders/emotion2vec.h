// emotion2vec (base / plus): a data2vec 2.0 audio encoder pretrained on emotional speech (Ma et al., ACL 2024). The
// modules compute what FunASR's published funasr/models/emotion2vec/ code computes at inference, and their
// registered names are the published checkpoint's (fairseq's nn.Sequential indices included), so a converted
// checkpoint loads by name:
//   local_encoder        conv front end on the raw waveform, LayerNorm over channels after every conv (layer_norm)
//   project_features     LayerNorm + Linear to embed_dim
//   relative_positional_encoder
//                        conv_pos_depth grouped convs (kernel max(3, conv_pos_width / depth)), each followed by a
//                        LayerNorm without affine and GELU; their output is added to the projected features
//   extra_tokens         num_extra_tokens learned tokens put in front of the frames (removed from the output)
//   context_encoder      LayerNorm, then prenet_depth post-LN transformer blocks ("prenet")
//   blocks               depth post-LN transformer blocks; every attention adds an ALiBi bias (-slope_h * |i - j|,
//                        times a learned per-head, optionally per-layer, scale clamped at zero)
// hidden_states: [0] the context encoder's output, [i] the output of block i (num_layers() = depth); the last one
// is what FunASR's extract_features returns. Extra tokens are removed from every one.
//
// Padding: FunASR's inference encodes one utterance at a time, layer-normalising its waveform first when the
// config says `normalize`. A padded batch here gives each utterance exactly that: the waveform is normalised over
// its own samples, every positional conv reads zeros past the utterance's end (the published code would read the
// padded frames' values), and attention masks the padded keys. An utterance's features never depend on its
// batch-mates.
#pragma once

#include <torch/torch.h>

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "fas/encoders/encoder.h"
#include "fas/io/state_dict.h"

namespace fas {

// The architecture, in the names of FunASR's model_conf (and its modalities.audio section). `fas convert
// emotion2vec` writes it as config.json with model_type "emotion2vec".
struct Emotion2VecConfig {
  // feature_encoder_spec, evaluated: (dim, kernel, stride) per conv layer.
  std::vector<int64_t> conv_dim = {512, 512, 512, 512, 512, 512, 512};
  std::vector<int64_t> conv_kernel = {10, 3, 3, 3, 3, 2, 2};
  std::vector<int64_t> conv_stride = {5, 2, 2, 2, 2, 2, 2};
  std::string extractor_mode = "layer_norm";
  int64_t embed_dim = 768;
  int64_t depth = 8;
  int64_t prenet_depth = 4;
  int64_t num_heads = 12;
  double mlp_ratio = 4.0;
  double norm_eps = 1e-5;
  bool norm_affine = true;
  bool layer_norm_first = false;
  int64_t num_extra_tokens = 0;
  int64_t conv_pos_width = 95;
  int64_t conv_pos_groups = 16;
  int64_t conv_pos_depth = 5;
  bool conv_pos_pre_ln = false;
  bool use_alibi_encoder = true;
  int64_t num_alibi_heads = 12;
  bool learned_alibi = false;
  bool learned_alibi_scale_per_head = true;
  bool learned_alibi_scale_per_layer = false;
  double alibi_scale = 1.0;  // the initial value of the learned scale (the checkpoint holds the trained one)
  bool normalize = true;     // layer-normalise each waveform over its samples first

  // Throws ConfigError naming the first field this implementation cannot honour, and why.
  void Validate() const;
  int64_t PositionalKernel() const;  // max(3, conv_pos_width / conv_pos_depth)
  int64_t ReceptiveField() const;    // samples behind one front-end frame
};

// FunASR's config.yaml (its `model_conf:` section) as our config. Throws ConfigError naming the file and key.
Emotion2VecConfig ReadFunAsrEmotion2VecConfig(const std::string& config_yaml);
// config.json as `fas convert` writes it (model_type "emotion2vec"); the fields it lacks keep the defaults above.
Emotion2VecConfig ReadEmotion2VecConfig(const std::string& config_json);
void WriteEmotion2VecConfig(const Emotion2VecConfig& config, const std::string& config_json);
// "[(512, 10, 5)] + [(512, 3, 2)] * 4 + [(512,2,2)] + [(512,2,2)]" -> conv_dim / conv_kernel / conv_stride.
void ParseFeatureEncoderSpec(const std::string& spec, Emotion2VecConfig& config);

// The published checkpoint's names: DataParallel's `module.` and fine-tuning wrappers' `d2v_model.` prefixes
// stripped; the pretraining decoder, EMA teacher and the plus models' classifier (`proj`) skipped.
const NameMap& Emotion2VecNameMap();

// What the layers between the waveform and the hidden states produced, for parity checks.
struct Emotion2VecStages {
  torch::Tensor local_features;       // [B, T', C] conv front end
  torch::Tensor projected;            // [B, T', D]
  torch::Tensor positions;            // [B, T', D] positional encoder output
  std::vector<torch::Tensor> prenet;  // [B, extra + T', D] each context-encoder block's output
};

namespace emotion2vec_detail {
class AudioEncoderImpl;
class BlockImpl;
}  // namespace emotion2vec_detail

class Emotion2VecEncoderImpl : public EncoderModule {
 public:
  explicit Emotion2VecEncoderImpl(const Emotion2VecConfig& config);

  EncoderOutput Encode(const EncoderInput& input) override;
  // waveform [B, T] float 16 kHz, lengths [B] samples (undefined = all T); `stages` filled when given.
  EncoderOutput forward(const torch::Tensor& waveform, const torch::Tensor& lengths = {},
                        Emotion2VecStages* stages = nullptr);
  int64_t hidden_size() const override { return config_.embed_dim; }
  int64_t num_layers() const override { return config_.depth; }
  torch::Tensor FrameLengths(const torch::Tensor& sample_lengths) const;

  // Strict load of a converted checkpoint (Emotion2VecNameMap); throws ModelError naming the tensor.
  LoadReport LoadWeights(const std::string& safetensors_path);
  // none | feature_extractor (the conv front end) | all.
  void SetFreeze(const std::string& mode);
  const std::string& freeze() const { return freeze_; }
  const Emotion2VecConfig& config() const { return config_; }

 private:
  Emotion2VecConfig config_;
  std::string freeze_ = "none";
  torch::nn::ModuleDict modality_encoders_{nullptr};
  std::shared_ptr<emotion2vec_detail::AudioEncoderImpl> audio_;
  torch::nn::ModuleList blocks_{nullptr};
};
TORCH_MODULE(Emotion2VecEncoder);

// Builds the encoder of a converted checkpoint: config.json (`hf_config`; empty = emotion2vec_base's architecture),
// model.safetensors (`weights`; empty = random initialisation), freezing. Throws ConfigError / ModelError.
Emotion2VecEncoder CreateEmotion2VecEncoder(const std::string& config_json, const std::string& weights,
                                            const std::string& freeze);

// `fas convert emotion2vec`: the published checkpoint (model.pt / emotion2vec_base.pt, torch.save's zip format,
// read without executing the pickle) and FunASR's config.yaml -> OUT/config.json and OUT/model.safetensors. The
// weights are loaded strictly into the encoder before they are written, so a file that converts also loads.
// Returns the load report (what was skipped).
LoadReport ConvertEmotion2Vec(const std::string& checkpoint, const std::string& config_yaml,
                              const std::string& out_dir);

}  // namespace fas

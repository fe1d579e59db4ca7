// MingTok-Audio's encoder (inclusionAI/MingTok-Audio, the acoustic pathway of the paper): 16 kHz waveform ->
// frames of input_dim samples every hop_size (320 / 320: 50 Hz) -> fc1 (no bias) -> fc2 -> a causal Qwen2
// transformer (RMSNorm, rotary positions, grouped-query attention, SwiGLU, optional sliding window) with its final
// RMSNorm -> fc3 -> the VAE posterior's parameters, mean then scale; std = softplus(scale) + 1e-4. The latent is
// the mean (`latent: mean`, deterministic) or a draw mean + std * N(0, 1) (`latent: sample`, what the published
// `encode_latent` returns).
//
// Registered names are the published checkpoint's without its `encoder.` prefix (fc1, fc2, fc3,
// encoder.layers.N.self_attn.{q,k,v,o}_proj, encoder.layers.N.mlp.{gate,up,down}_proj,
// encoder.layers.N.{input,post_attention}_layernorm, encoder.norm), so the published model.safetensors loads as it
// is: its decoder (and semantic module), the backbone's token embedding (the encoder feeds inputs_embeds) and
// the Encoder's LayerNorm `norm` (built, never called by its forward) are skipped on purpose.
//
// The backbone is causal, so a frame never sees the frames after it: padding at the end of a batch changes no
// valid frame, and an utterance's frames are the same alone or batched (samples past its length are zeroed first,
// so its last, partial frame is padded with zeros either way).
#pragma once

#include <torch/torch.h>

#include <cstdint>
#include <string>
#include <vector>

#include "fas/encoders/encoder.h"
#include "fas/io/state_dict.h"

namespace fas {

struct MingTokAudioConfig {
  // The published config.json (AudioVAEconfig): its enc_kwargs (input_dim, hop_size, latent_dim, and backbone, a
  // Qwen2Config) replace the architecture fields below.
  std::string hf_config;
  std::string weights;  // the published model.safetensors; empty = random initialisation
  bool freeze = false;
  std::string features = "latent";  // latent (the paper's 64-d features) | hidden_states (the backbone's)
  std::string latent = "mean";      // mean | sample

  // Architecture, in the published names (enc_kwargs and Qwen2Config's). Defaults: a small model for tests.
  int64_t input_dim = 320;  // samples a frame
  int64_t hop_size = 320;   // samples between frames
  int64_t latent_dim = 64;
  int64_t hidden_size = 128;
  int64_t intermediate_size = 256;
  int64_t num_hidden_layers = 2;
  int64_t num_attention_heads = 4;
  int64_t num_key_value_heads = 2;
  int64_t head_dim = 0;  // 0 = hidden_size / num_attention_heads
  std::string hidden_act = "silu";
  double rms_norm_eps = 1e-6;
  double rope_theta = 10000.0;
  bool use_sliding_window = false;  // layers from max_window_layers on attend to the last sliding_window frames
  int64_t sliding_window = 4096;
  int64_t max_window_layers = 28;
  double attention_dropout = 0.0;

  template <class V>
  void Visit(V& v) {
    v("hf_config", hf_config, "the published config.json (its enc_kwargs replace the architecture below)");
    v("weights", weights, "the published model.safetensors (encoder.* is loaded); empty = random init");
    v("freeze", freeze, "keep the weights fixed");
    v("features", features, "latent (the VAE latent, latent_dim) | hidden_states (the transformer's, hidden_size)");
    v("latent", latent, "mean (deterministic) | sample (mean + std * noise, as the published encode_latent)");
    v("input_dim", input_dim, "samples a frame");
    v("hop_size", hop_size, "samples between frames (320 = 50 Hz)");
    v("latent_dim", latent_dim);
    v("hidden_size", hidden_size);
    v("intermediate_size", intermediate_size);
    v("num_hidden_layers", num_hidden_layers);
    v("num_attention_heads", num_attention_heads);
    v("num_key_value_heads", num_key_value_heads);
    v("head_dim", head_dim, "0 = hidden_size / num_attention_heads");
    v("hidden_act", hidden_act, "silu | gelu | relu");
    v("rms_norm_eps", rms_norm_eps);
    v("rope_theta", rope_theta);
    v("use_sliding_window", use_sliding_window);
    v("sliding_window", sliding_window);
    v("max_window_layers", max_window_layers, "layers before this one attend to every earlier frame");
    v("attention_dropout", attention_dropout);
  }
  // Throws ConfigError naming the first bad field.
  void Validate() const;
  int64_t HeadDim() const { return head_dim > 0 ? head_dim : hidden_size / num_attention_heads; }
  bool SlidingLayer(int64_t layer) const { return use_sliding_window && layer >= max_window_layers; }
};

// The published config.json as our config: enc_kwargs.{input_dim, latent_dim} are required (the published code
// reads them), the rest take the published code's defaults (hop_size 320; Qwen2Config's for the backbone). A
// rope scaling other than the default, or a layer_types list other than use_sliding_window's, is refused.
MingTokAudioConfig ReadMingTokAudioConfig(const std::string& path);
// Replaces the architecture of `config` by hf_config's, if set; keeps weights, freeze, features and latent.
MingTokAudioConfig ResolveMingTokAudioConfig(const MingTokAudioConfig& config);

const NameMap& MingTokAudioNameMap();

// Everything the encoder computes for a batch, for the features and for tests.
struct MingTokAudioOutput {
  std::vector<torch::Tensor> hidden_states;  // [0] fc2(fc1(frames)); [i] layer i; the last after the final RMSNorm
  torch::Tensor posterior;                   // [B, T, 2 latent_dim]: mean then scale (fc3 of the last state)
  torch::Tensor mean, std;                   // [B, T, latent_dim]
  torch::Tensor lengths;                     // [B] int64 frames: ceil(samples / hop_size)
  torch::Tensor mask;                        // [B, T] bool, true = a frame of the utterance
};

namespace mingtok_detail {
class Qwen2ModelImpl;
}

class MingTokAudioEncoderImpl : public EncoderModule {
 public:
  explicit MingTokAudioEncoderImpl(const MingTokAudioConfig& config);

  // features: latent -> one state, the latent (mean or sample); hidden_states -> the backbone's states.
  EncoderOutput Encode(const EncoderInput& input) override;
  // waveform [B, T] float 16 kHz; lengths [B] int64 samples (undefined = all T).
  MingTokAudioOutput forward(const torch::Tensor& waveform, const torch::Tensor& lengths = {});
  // [B, T] -> [B, frames, input_dim], as the published get_frames (zeros after the last sample).
  torch::Tensor Frames(const torch::Tensor& waveform) const;

  int64_t hidden_size() const override;
  int64_t num_layers() const override;

  LoadReport LoadWeights(const std::string& safetensors_path);
  const MingTokAudioConfig& config() const { return config_; }

  torch::nn::Linear fc1{nullptr}, fc2{nullptr}, fc3{nullptr};

 private:
  MingTokAudioConfig config_;
  std::shared_ptr<mingtok_detail::Qwen2ModelImpl> encoder_;
};
TORCH_MODULE(MingTokAudioEncoder);

// Resolves hf_config, builds, loads weights if given, applies freeze. Throws ConfigError / ModelError.
MingTokAudioEncoder CreateMingTokAudioEncoder(const MingTokAudioConfig& config);

}  // namespace fas

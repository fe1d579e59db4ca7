// The Whisper encoder (the semantic encoder the paper used) as one module whose registered names equal
// HuggingFace's `WhisperEncoder` (conv1, conv2, embed_positions, layers.N.self_attn.{q,k,v,out}_proj,
// self_attn_layer_norm, fc1, fc2, final_layer_norm, layer_norm); checkpoints of `WhisperModel` (`encoder.`) and
// `WhisperForConditionalGeneration` (`model.encoder.`) load as they are, their decoder skipped on purpose.
//
// Input: 16 kHz waveforms. The log-mel front end is fas/audio/features.h's Whisper log-mel. Two framings:
//   window    every utterance padded to chunk_length seconds (30 s for the released models, which were trained
//             on exactly that), no mask, as HuggingFace's feature extractor and encoder do;
//   variable  each utterance's log-mel on its own samples, the batch padded to its longest; padded mel frames and
//             conv frames are zeroed and padded encoder frames are masked out of attention, so an utterance's
//             states do not depend on what it is batched with. Positions are the first T of embed_positions.
// An utterance longer than the encoder's positions reach (chunk_length for window framing, max_source_positions
// frames of 20 ms for variable) is encoded as its successive windows of that length, each framed as above, and its
// states are their valid frames joined in time: nothing is cut, as openai-whisper does for long-form audio.
#pragma once

#include <torch/torch.h>

#include <cstdint>
#include <memory>
#include <string>

#include "fas/encoders/encoder.h"
#include "fas/io/state_dict.h"

namespace fas {

struct WhisperEncoderConfig {
  std::string type = "whisper";
  std::string hf_config;  // HuggingFace config.json (model_type whisper); its architecture replaces the fields below
  std::string weights;    // safetensors with HuggingFace names; empty = random initialisation
  bool freeze = false;
  std::string framing = "window";  // window | variable
  double chunk_length = 30.0;      // seconds of the window (max_source_positions * 2 * 10 ms at most)

  // Architecture, in HuggingFace WhisperConfig's names. Defaults: a small model for laptop training.
  int64_t num_mel_bins = 80;
  int64_t d_model = 128;
  int64_t encoder_layers = 2;
  int64_t encoder_attention_heads = 4;
  int64_t encoder_ffn_dim = 512;
  int64_t max_source_positions = 1500;
  std::string activation_function = "gelu";
  double dropout = 0.0;
  double attention_dropout = 0.0;
  double activation_dropout = 0.0;

  template <class V>
  void Visit(V& v) {
    v("type", type, "whisper");
    v("hf_config", hf_config, "HuggingFace config.json (its architecture replaces the fields below)");
    v("weights", weights, "safetensors with HuggingFace tensor names; empty = random init");
    v("freeze", freeze, "keep the weights fixed");
    v("framing", framing, "window (pad/cut to chunk_length, as released) | variable (mask)");
    v("chunk_length", chunk_length, "window length in seconds");
    v("num_mel_bins", num_mel_bins, "80 (up to large-v2) or 128 (large-v3)");
    v("d_model", d_model);
    v("encoder_layers", encoder_layers);
    v("encoder_attention_heads", encoder_attention_heads);
    v("encoder_ffn_dim", encoder_ffn_dim);
    v("max_source_positions", max_source_positions, "encoder frames (20 ms each)");
    v("activation_function", activation_function, "gelu | gelu_new | relu | silu");
    v("dropout", dropout);
    v("attention_dropout", attention_dropout);
    v("activation_dropout", activation_dropout);
  }
  // Throws ConfigError naming the first bad field.
  void Validate() const;
  int64_t window_samples() const;  // chunk_length at 16 kHz
};

// A HuggingFace WhisperConfig config.json as our config (absent fields: HuggingFace's defaults).
WhisperEncoderConfig ReadHfWhisperConfig(const std::string& path);
WhisperEncoderConfig ResolveWhisperConfig(const WhisperEncoderConfig& config);

const NameMap& WhisperNameMap();

// Whisper's sinusoidal position table [length, channels] (openai/whisper `sinusoids`): sin then cos halves.
torch::Tensor WhisperSinusoids(int64_t length, int64_t channels);

namespace whisper_detail {
class LayerImpl;
}

class WhisperEncoderImpl : public EncoderModule {
 public:
  explicit WhisperEncoderImpl(const WhisperEncoderConfig& config);

  // waveform [B, T] float 16 kHz; lengths [B] int64 samples (undefined = all T).
  EncoderOutput Encode(const EncoderInput& input) override;
  EncoderOutput forward(const torch::Tensor& waveform, const torch::Tensor& lengths = {});
  // The longest utterance encoded in one piece, in samples (longer ones go window by window).
  int64_t max_window_samples() const;
  // From log-mel features [B, num_mel_bins, frames] and frame counts [B] (undefined = all frames).
  EncoderOutput ForwardFeatures(const torch::Tensor& features, const torch::Tensor& frame_lengths = {});
  // The log-mel of a batch as the encoder frames it: [B, num_mel_bins, frames] and frame counts [B].
  std::pair<torch::Tensor, torch::Tensor> Features(const torch::Tensor& waveform, const torch::Tensor& lengths) const;

  int64_t hidden_size() const override { return config_.d_model; }
  int64_t num_layers() const override { return config_.encoder_layers; }

  LoadReport LoadWeights(const std::string& safetensors_path);
  const WhisperEncoderConfig& config() const { return config_; }

  torch::nn::Conv1d conv1{nullptr}, conv2{nullptr};
  torch::nn::Embedding embed_positions{nullptr};
  torch::nn::ModuleList layers{nullptr};
  torch::nn::LayerNorm layer_norm{nullptr};

 private:
  // forward() for a batch with an utterance over max_window_samples(): every utterance cut into windows of that
  // length, the windows encoded as one batch, each utterance's states joined back in time.
  EncoderOutput ForwardWindows(const torch::Tensor& waveform, const torch::Tensor& lengths);
  WhisperEncoderConfig config_;
};
TORCH_MODULE(WhisperEncoder);

WhisperEncoder CreateWhisperEncoder(const WhisperEncoderConfig& config);

}  // namespace fas

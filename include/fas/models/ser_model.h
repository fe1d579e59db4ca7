// An SER model = acoustic encoder + semantic encoder + fusion head (with its classifier), built by name from a
// config. Forward takes either raw inputs (waveforms, token ids) or features a cache holds for frozen encoders;
// the two paths give the same logits for the same utterances.
#pragma once

#include <torch/torch.h>

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "fas/data/labels.h"
#include "fas/encoders/encoder.h"
#include "fas/encoders/mingtok_audio.h"
#include "fas/encoders/text_encoder.h"
#include "fas/encoders/wav2vec2.h"
#include "fas/encoders/whisper.h"
#include "fas/fusion/fusion.h"
#include "fas/text/tokenizer.h"

namespace fas {

// The acoustic pathway: a wav2vec2-family encoder (its config carries weights and freezing) and the hidden states
// the head reads.
struct AcousticPathwayConfig {
  // Hidden states combined by a learned softmax-weighted sum (0 = the input of the first layer, -1 = the last).
  // One entry = that layer as it is.
  std::vector<int> layers = {-1};
  AcousticEncoderConfig encoder;
  MingTokAudioConfig mingtok_audio;  // encoder.type mingtok_audio: the paper's acoustic encoder
  // Two-stage training: a run directory (or a model.safetensors) of an SER model whose trained acoustic encoder
  // starts this one (its `acoustic_encoder.*` tensors, after any `encoder.weights`). With `encoder.freeze: all`
  // this is the paper's set-up (fusion over frozen, cached encoder features) with encoders trained here.
  std::string init_from;

  template <class V>
  void Visit(V& v) {
    v("layers", layers, "hidden states to combine (weighted sum); 0 = embeddings, -1 = last");
    v("encoder", encoder);
    v("mingtok_audio", mingtok_audio, "MingTok-Audio's encoder, read when encoder.type is mingtok_audio");
    v("init_from", init_from, "run directory (or model.safetensors) whose acoustic encoder initialises this one");
  }
};

// The semantic pathway: a text transformer over the transcript (type text) or the Whisper encoder over the audio
// (type whisper, as the paper).
struct SemanticPathwayConfig {
  std::string type = "text";  // text | whisper
  std::vector<int> layers = {-1};
  // Text: the manifest field holding the transcript, and the tokenizer. With tokenizer.model empty, the trainer
  // trains one on the training manifest's `text_field` (PrepareTokenizer) and records its path in the run's
  // resolved config.
  std::string text_field = "asr_text";
  TokenizerConfig tokenizer;  // its `model` also becomes text.tokenizer
  int tokenizer_vocab_size = 500;
  TextEncoderConfig text;        // type text
  WhisperEncoderConfig whisper;  // type whisper
  // As AcousticPathwayConfig::init_from, for the semantic encoder; a text pathway also takes that run's tokenizer
  // (when tokenizer.model is empty), since the encoder's embeddings are indexed by its ids.
  std::string init_from;

  template <class V>
  void Visit(V& v) {
    v("type", type, "text | whisper");
    v("layers", layers, "hidden states to combine (weighted sum); 0 = embeddings, -1 = last");
    v("text_field", text_field, "manifest field with the transcript: asr_text | text");
    v("tokenizer", tokenizer);
    v("tokenizer_vocab_size", tokenizer_vocab_size, "vocabulary size when the trainer trains the tokenizer");
    v("text", text, "text transformer (type text)");
    v("whisper", whisper, "Whisper encoder (type whisper)");
    v("init_from", init_from, "run directory (or model.safetensors) whose semantic encoder initialises this one");
  }
};

struct ModelConfig {
  std::string head = "fas";  // FusionHeadNames(): fas, acoustic_only, semantic_only, concat, gated, ...
  FusionConfig fusion;
  AcousticPathwayConfig acoustic;
  SemanticPathwayConfig semantic;

  template <class V>
  void Visit(V& v) {
    v("head", head, "fusion head: fas | acoustic_only | semantic_only | concat | gated | fas_random_select | "
                    "fas_full_attention | cross_attention");
    v("fusion", fusion);
    v("acoustic", acoustic);
    v("semantic", semantic);
  }
  // Throws ConfigError naming the first bad field (`model.<key>`).
  void Validate() const;
};

// Trains the semantic tokenizer on `texts` (the training manifest's text_field) as DIR/tokenizer.model when
// config.semantic.tokenizer.model is empty (text pathway only), and points the config at it; with
// semantic.init_from set, takes that run's tokenizer instead. Returns the model path ("" for whisper).
std::string PrepareTokenizer(ModelConfig& config, const std::vector<std::string>& texts, const std::string& dir);

// A batch. Give each pathway either its raw input or its cached features (the features win when both are set).
// Masks are bool (true = real sample / token / frame); integer 0/1 masks are accepted too.
struct SerInput {
  // raw
  torch::Tensor waveform;        // [B, T] float, 16 kHz
  torch::Tensor lengths;         // [B] int64 samples
  torch::Tensor input_ids;       // [B, L] int64
  torch::Tensor attention_mask;  // [B, L]
  // cached (what EncodeAcoustic / EncodeSemantic return)
  torch::Tensor acoustic_features;  // [B, S, T', D] (S selected layers) or [B, T', D]
  torch::Tensor acoustic_mask;      // [B, T']
  torch::Tensor semantic_features;  // [B, S, L, D] or [B, L, D]
  torch::Tensor semantic_mask;      // [B, L]
  // The cached features are already the head's patch means (a feature store kept those instead of frames).
  bool acoustic_patched = false;
  bool semantic_patched = false;
  // Modality dropout in training: per example 1 keeps a pathway's features, 0 zeroes them ([B] float; undefined
  // keeps every example's).
  torch::Tensor keep_acoustic, keep_semantic;
};

// Draws modality dropout for a batch of `batch` examples from LibTorch's generator (the trainer seeds it per
// batch, so the draws are a function of (seed, epoch, batch)): one uniform draw an example drops the acoustic
// pathway with probability `p_acoustic`, else the semantic one with probability `p_semantic`; never both.
// Returns {keep_acoustic, keep_semantic}, [B] float 0/1.
std::pair<torch::Tensor, torch::Tensor> DrawModalityDropout(int64_t batch, double p_acoustic, double p_semantic);

struct SerOutput {
  torch::Tensor logits;          // [B, C]
  torch::Tensor attention;       // [B, Nq, N] per-query weights over the selected tokens; undefined if none
  torch::Tensor token_stream;    // [B, N] 0 acoustic / 1 semantic / -1 empty slot; undefined if no attention
  torch::Tensor acoustic_share;  // [B] attention mass on acoustic tokens; undefined when the head has none
};

// What a feature cache stores for one pathway: the selected hidden states, before the learned layer weighting
// (so the weights keep training on cached features), and the frame / token mask.
struct StreamFeatures {
  torch::Tensor states;  // [B, S, T, D]
  torch::Tensor mask;    // [B, T] bool
};

// Parameters split for separate learning rates: every parameter that trains at some point of the run, from the
// model's structure and configured freezing, so the groups are the same before and after an encoder unfreezes
// (and so between a run and its resume). A parameter frozen for the whole run is in neither; one frozen for now
// has no gradient, and the optimiser leaves it alone until it has one.
struct ParameterGroups {
  std::vector<torch::Tensor> encoder;  // acoustic and semantic encoders
  std::vector<torch::Tensor> head;     // layer weights, fusion head, classifier
};

class SerModelImpl : public torch::nn::Module {
 public:
  // Builds the encoders the config names (random init; BuildModel also loads weights).
  SerModelImpl(const ModelConfig& config, std::vector<std::string> labels);

  // Raw input → cacheable features: the acoustic encoder reads waveform + lengths; the semantic one reads
  // input_ids + attention_mask (type text) or waveform + lengths (type whisper). Call under torch::NoGradGuard
  // for a frozen encoder.
  StreamFeatures EncodeAcoustic(const SerInput& raw);
  StreamFeatures EncodeSemantic(const SerInput& raw);

  // Transcripts → input_ids [B, L] and attention_mask [B, L] with the model's tokenizer (semantic type text).
  TokenBatch Tokenize(const std::vector<std::string>& texts) const;

  // The input's tensors are moved to the model's device first (pinned, non-blocking from the CPU); the output is
  // on that device.
  SerOutput Forward(const SerInput& input);

  // Where the model's parameters are (fas::ComputeDevice() once a command has moved it there).
  torch::Device device() const;

  // Frozen encoders stay in eval mode (no dropout) whatever train() is asked of the model.
  void train(bool on = true) override;
  // Call after every optimizer step: encoders that unfreeze after N steps do it here.
  void OnTrainStep(int64_t step);

  // Whether a pathway's features can be cached (its encoder is wholly frozen for the whole run) and whether the
  // head reads it at all.
  bool acoustic_frozen() const;
  bool semantic_frozen() const;
  bool uses_acoustic() const;
  bool uses_semantic() const;

  std::vector<torch::Tensor> TrainableParameters() const;
  ParameterGroups Groups() const;
  int64_t NumTrainableParameters() const;
  // Trainable parameter counts by part: "acoustic_encoder", "semantic_encoder", "layer_weights", "head", "total".
  std::vector<std::pair<std::string, int64_t>> ParameterReport() const;

  const std::vector<std::string>& labels() const { return labels_; }
  const ModelConfig& config() const { return config_; }
  FusionHeadImpl& head() { return *head_; }

 private:
  static StreamFeatures Stack(const EncoderOutput& out, const std::vector<int>& layers);
  static torch::Tensor Combine(const torch::Tensor& features, LayerWeightedSum& weights);
  void ApplyFreezing();

  ModelConfig config_;
  std::vector<std::string> labels_;
  std::shared_ptr<EncoderModule> acoustic_encoder_;  // null when the head does not read the pathway
  std::shared_ptr<EncoderModule> semantic_encoder_;
  std::shared_ptr<Tokenizer> tokenizer_;
  LayerWeightedSum acoustic_layers_{nullptr};  // null for a single selected layer
  LayerWeightedSum semantic_layers_{nullptr};
  std::shared_ptr<FusionHeadImpl> head_;
};
TORCH_MODULE(SerModel);

// The model.safetensors an `init_from` value names: the file itself, or a run directory's best (else last)
// checkpoint. Throws IoError saying which run to train first.
std::string InitFromWeights(const std::string& init_from);

// Builds the model the config names, over the classes of `labels` (in their order); encoders load the weights
// their configs name, then the `init_from` runs' encoders. Throws ConfigError on a bad config, ModelError on weights that do not fit.
SerModel BuildModel(const ModelConfig& config, const LabelSet& labels);

}  // namespace fas

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
#include "fas/fusion/fusion.h"

namespace fas {

class SentencePiece;
namespace models {
class PathwayImpl;
}

// How a pathway's encoder is trained. frozen: weights loaded and fixed (features may be cached);
// finetune: weights loaded and trained with the encoder learning rate; scratch: random init, trained.
struct StreamTraining {
  std::string mode = "scratch";  // frozen | finetune | scratch
  std::string weights;           // safetensors with HuggingFace tensor names; required unless scratch
  // Hidden states combined by a learned softmax-weighted sum (0 = the input of the first layer, -1 = the last).
  // One entry = that layer as it is.
  std::vector<int> layers = {-1};

  template <class V>
  void Visit(V& v) {
    v("mode", mode, "frozen | finetune | scratch");
    v("weights", weights, "safetensors file (HuggingFace names)");
    v("layers", layers, "hidden states to combine (weighted sum); 0 = embeddings, -1 = last");
  }
};

// The sentencepiece model that turns transcripts into ids for a text semantic encoder. With `model` empty, the
// trainer trains one on the training manifest's `field` (PrepareTokenizer) and writes its path into the run's
// resolved config.
struct TokenizerSpec {
  std::string model;              // PREFIX.model
  int vocab_size = 500;           // when trained here
  std::string field = "asr_text"; // manifest field it is trained on and reads at run time (asr_text | text)
  int max_tokens = 64;            // longer transcripts are truncated (bos / eos included)

  template <class V>
  void Visit(V& v) {
    v("model", model, "sentencepiece .model; empty = train one on the training manifest");
    v("vocab_size", vocab_size, "vocabulary size when trained here");
    v("field", field, "manifest field holding the transcript: asr_text | text");
    v("max_tokens", max_tokens, "truncation length, bos/eos included");
  }
};

struct AcousticPathwayConfig : StreamTraining {
  template <class V>
  void Visit(V& v) {
    StreamTraining::Visit(v);
  }
};

struct SemanticPathwayConfig : StreamTraining {
  std::string type = "text";  // text (transformer over the transcript) | whisper (encoder over the audio)
  TokenizerSpec tokenizer;

  template <class V>
  void Visit(V& v) {
    v("type", type, "text | whisper");
    StreamTraining::Visit(v);
    v("tokenizer", tokenizer);
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

// Trains the semantic tokenizer on `texts` into DIR/tokenizer.model when config.semantic.tokenizer.model is empty
// (text pathway only), and points the config at it. Returns the model path ("" for whisper).
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
};

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

// Parameters split for separate learning rates. Frozen parameters are in neither.
struct ParameterGroups {
  std::vector<torch::Tensor> encoder;  // acoustic and semantic encoders (finetune / scratch)
  std::vector<torch::Tensor> head;     // layer weights, fusion head, classifier
};

class SerModelImpl : public torch::nn::Module {
 public:
  // Builds the encoders the config names (random init; BuildModel also loads weights).
  SerModelImpl(const ModelConfig& config, std::vector<std::string> labels);
  // Loads frozen / finetune encoder weights (strict: names and shapes must match).
  void LoadEncoderWeights();

  // Raw input → cacheable features: the acoustic encoder reads waveform + lengths; the semantic one reads
  // input_ids + attention_mask (type text) or waveform + lengths (type whisper). Call under torch::NoGradGuard
  // for a frozen encoder.
  StreamFeatures EncodeAcoustic(const SerInput& raw);
  StreamFeatures EncodeSemantic(const SerInput& raw);

  // Transcripts → input_ids [B, L] and attention_mask [B, L] with the model's tokenizer (semantic type text).
  std::pair<torch::Tensor, torch::Tensor> Tokenize(const std::vector<std::string>& texts) const;

  SerOutput Forward(const SerInput& input);

  // Frozen encoders stay in eval mode (no dropout) whatever train() is asked of the model.
  void train(bool on = true) override;

  // Whether a pathway's features can be cached (its encoder is frozen) and whether the head reads it at all.
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
  StreamFeatures Select(const std::vector<torch::Tensor>& states, const torch::Tensor& mask,
                        const std::vector<int>& layers) const;
  torch::Tensor Combine(const torch::Tensor& features, const torch::Tensor& layer_logits) const;
  void ApplyFreezing();

  ModelConfig config_;
  std::vector<std::string> labels_;
  std::shared_ptr<models::PathwayImpl> acoustic_encoder_;  // null when the head does not read the pathway
  std::shared_ptr<models::PathwayImpl> semantic_encoder_;
  std::shared_ptr<SentencePiece> tokenizer_;
  torch::Tensor acoustic_layer_logits_;  // [S] softmax → layer weights; undefined for one layer
  torch::Tensor semantic_layer_logits_;
  std::shared_ptr<FusionHeadImpl> head_;
};
TORCH_MODULE(SerModel);

// Builds the model the config names, over the classes of `labels` (in their order), and loads encoder weights
// for frozen / finetune pathways. Throws ConfigError on a bad config, ModelError on weights that do not fit.
SerModel BuildModel(const ModelConfig& config, const LabelSet& labels);

}  // namespace fas

// A CTC recogniser: the wav2vec2-family acoustic encoder plus a linear head, with HuggingFace
// `Wav2Vec2ForCTC` / `HubertForCTC` / `WavLMForCTC` names (`wav2vec2.*` / `hubert.*` / `wavlm.*`, `lm_head`).
// A model folder holds what the hub ships: config.json, model.safetensors, vocab.json and preprocessor_config.json
// (the waveform normalisation: do_normalize); one saved here loads in transformers, and a hub one loads here.
//
// It lives in encoders/ rather than asr/ because it is built on the acoustic encoder, which the module order
// (asr before encoders) keeps out of asr/; the decoding, vocabulary and loss it uses are asr/ctc_decode.h. It
// registers itself as the "ctc" transcription back-end with RegisterCtcTranscriber().
#pragma once

#include <torch/torch.h>

#include <memory>
#include <string>
#include <vector>

#include "fas/asr/ctc_decode.h"
#include "fas/encoders/wav2vec2.h"

namespace fas {

// How a CTC model is built for training (task: asr): the encoder, and the vocabulary.
struct CtcModelConfig {
  AcousticEncoderConfig encoder;
  std::string vocab;           // vocab.json; empty = built from the training manifest's text, as `units` says
  std::string units = "char";  // char | word: the output symbols of a vocabulary built from the training text
  int word_min_count = 1;      // units: word: words seen fewer times in training are <unk>
  double final_dropout = 0.1;  // before lm_head, as HuggingFace's final_dropout
  NormalizeOptions normalization;  // text → characters, identical in training, decoding and WER
  int beam_width = 1;              // dev decoding: 1 = greedy

  template <class V>
  void Visit(V& v) {
    v("encoder", encoder);
    v("vocab", vocab, "vocab.json (HuggingFace Wav2Vec2CTCTokenizer); empty = built from the training text");
    v("units", units, "char | word: output symbols of the vocabulary built from the training text");
    v("word_min_count", word_min_count, "units: word: rarer training words become <unk>");
    v("final_dropout", final_dropout);
    v("normalization", normalization);
    v("beam_width", beam_width, "1 = greedy decoding");
  }
  void Validate() const;  // throws ConfigError
};

// A batch for CTC training: waveforms [B, T] float 16 kHz, lengths [B] int64 samples, reference texts.
struct CtcBatch {
  torch::Tensor waveform;
  torch::Tensor lengths;
  std::vector<std::string> texts;
};

struct CtcOutput {
  torch::Tensor logits;         // [B, frames, vocabulary]
  torch::Tensor frame_lengths;  // [B] int64
};

class CtcModelImpl : public torch::nn::Module {
 public:
  CtcModelImpl(const AcousticEncoderConfig& encoder, CtcVocab vocab, double final_dropout = 0.1,
               NormalizeOptions normalization = {});

  CtcOutput forward(const torch::Tensor& waveform, const torch::Tensor& lengths = {});
  // Mean over the batch of the CTC loss per target character (texts normalised, then mapped by the vocabulary).
  torch::Tensor Loss(const CtcBatch& batch);
  // Lower-case transcripts; beam_width 1 = greedy.
  std::vector<std::string> Transcribe(const torch::Tensor& waveform, const torch::Tensor& lengths = {},
                                      int beam_width = 1);
  // The transcripts of a forward's output (each utterance's frames only).
  std::vector<std::string> Decode(const CtcOutput& out, int beam_width = 1) const;

  // config.json (HuggingFace ForCTC), model.safetensors, vocab.json, preprocessor_config.json.
  void SaveDir(const std::string& dir) const;
  // Strict: every tensor of the checkpoint is the encoder's or lm_head's, with the right shape.
  LoadReport LoadWeights(const std::string& safetensors_path);

  const CtcVocab& vocab() const { return vocab_; }
  const NormalizeOptions& normalization() const { return normalization_; }
  // How a waveform is normalised before the model sees it (fas/audio/features.h names: none | peak | rms |
  // mean_var); HuggingFace's do_normalize is mean_var. The model was trained on waveforms prepared this way, so
  // the transcriber prepares its input the same way.
  const std::string& audio_normalize() const { return audio_normalize_; }
  void set_audio_normalize(const std::string& mode);  // throws ConfigError on an unknown name
  AcousticEncoderImpl& encoder() { return *encoder_; }
  torch::nn::Linear lm_head{nullptr};

 private:
  std::shared_ptr<AcousticEncoderImpl> encoder_;
  CtcVocab vocab_;
  double final_dropout_;
  NormalizeOptions normalization_;
  std::string audio_normalize_ = "none";
};
TORCH_MODULE(CtcModel);

// The vocabulary config.units asks for, built from the training texts (characters or words).
CtcVocab CtcVocabFromTexts(const CtcModelConfig& config, const std::vector<std::string>& texts);
// Builds from a training config (vocab from config.vocab, or from `texts` and config.units when it is empty); loads
// config.encoder.weights into the encoder when set.
CtcModel CreateCtcModel(const CtcModelConfig& config, const std::vector<std::string>& texts = {});
// The model folder `dir` names: `dir` itself when it holds config.json, else the best (then last) checkpoint of a
// `fas train` run directory (task: asr), whose checkpoint folders are model folders. Throws IoError when neither.
std::string ResolveCtcModelDir(const std::string& dir);
// Loads a model folder or run directory (see ResolveCtcModelDir): config.json, model.safetensors, vocab.json and,
// when present, preprocessor_config.json (absent: no waveform normalisation). Throws IoError / ConfigError /
// ModelError.
CtcModel LoadCtcModel(const std::string& dir);

// Registers the "ctc" transcription back-end (TranscriberConfig::ctc: model folder and beam width).
void RegisterCtcTranscriber();

}  // namespace fas

#include "fas/core/device.h"
#include "fas/encoders/ctc_model.h"

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "fas/asr/transcriber.h"
#include "fas/audio/features.h"
#include "fas/core/error.h"
#include "fas/io/json_value.h"
#include "fas/io/safetensors.h"

namespace fs = std::filesystem;

namespace fas {
namespace {

std::string ReadBytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw IoError("cannot read " + path);
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// HuggingFace's class names for the CTC head of each family.
std::string Architecture(const std::string& type) {
  if (type == "hubert") return "HubertForCTC";
  if (type == "wavlm") return "WavLMForCTC";
  return "Wav2Vec2ForCTC";
}

nlohmann::ordered_json HfConfig(const AcousticEncoderConfig& c, const CtcVocab& vocab, double final_dropout) {
  nlohmann::ordered_json j;
  j["model_type"] = c.type;
  j["architectures"] = {Architecture(c.type)};
  if (c.feature_extractor != "conv") {
    j["fas_feature_extractor"] = c.feature_extractor;
    j["fas_fbank_bins"] = c.fbank_bins;
    j["fas_fbank_stack"] = c.fbank_stack;
  }
  j["conv_dim"] = c.conv_dim;
  j["conv_kernel"] = c.conv_kernel;
  j["conv_stride"] = c.conv_stride;
  j["num_feat_extract_layers"] = c.conv_dim.size();
  j["conv_bias"] = c.conv_bias;
  j["feat_extract_norm"] = c.feat_extract_norm;
  j["feat_extract_activation"] = c.feat_extract_activation;
  j["feat_proj_layer_norm"] = c.feat_proj_layer_norm;
  j["do_stable_layer_norm"] = c.do_stable_layer_norm;
  j["num_conv_pos_embeddings"] = c.num_conv_pos_embeddings;
  j["num_conv_pos_embedding_groups"] = c.num_conv_pos_embedding_groups;
  j["hidden_size"] = c.hidden_size;
  j["num_hidden_layers"] = c.num_hidden_layers;
  j["num_attention_heads"] = c.num_attention_heads;
  j["intermediate_size"] = c.intermediate_size;
  j["hidden_act"] = c.hidden_act;
  j["layer_norm_eps"] = c.layer_norm_eps;
  if (c.type == "wavlm") {
    j["num_buckets"] = c.num_buckets;
    j["max_bucket_distance"] = c.max_bucket_distance;
  }
  j["hidden_dropout"] = c.hidden_dropout;
  j["attention_dropout"] = c.attention_dropout;
  j["activation_dropout"] = c.activation_dropout;
  j["feat_proj_dropout"] = c.feat_proj_dropout;
  j["layerdrop"] = c.layerdrop;
  j["mask_time_prob"] = c.mask_time_prob;
  j["mask_time_length"] = c.mask_time_length;
  j["final_dropout"] = final_dropout;
  j["vocab_size"] = vocab.size();
  j["pad_token_id"] = vocab.blank_id();
  j["ctc_loss_reduction"] = "mean";
  j["ctc_zero_infinity"] = true;
  return j;
}

// HuggingFace Wav2Vec2FeatureExtractor settings. do_normalize is mean_var; the other normalisations FAS has are
// kept in an extra key that transformers ignores.
nlohmann::ordered_json PreprocessorConfig(const AcousticEncoderConfig& c, const std::string& normalize) {
  nlohmann::ordered_json j;
  j["feature_extractor_type"] = "Wav2Vec2FeatureExtractor";
  j["feature_size"] = 1;
  j["sampling_rate"] = 16000;
  j["padding_value"] = 0.0;
  j["padding_side"] = "right";
  j["do_normalize"] = normalize == "mean_var";
  // Models with layer-normalised conv features are trained with an attention mask (HuggingFace's rule).
  j["return_attention_mask"] = c.feat_extract_norm == "layer";
  if (normalize == "peak" || normalize == "rms") j["fas_normalize"] = normalize;
  return j;
}

std::string ReadPreprocessorNormalize(const std::string& path) {
  if (!fs::is_regular_file(path)) return "none";
  nlohmann::json j;
  try {
    j = nlohmann::json::parse(ReadBytes(path));
    if (j.contains("fas_normalize")) return j.at("fas_normalize").get<std::string>();
    return j.value("do_normalize", false) ? "mean_var" : "none";
  } catch (const nlohmann::json::exception& e) {
    throw IoError(path + " is malformed: " + e.what());
  }
}

class CtcTranscriber : public Transcriber {
 public:
  explicit CtcTranscriber(const CtcTranscriberConfig& config)
      : config_(config), dir_(ResolveCtcModelDir(config.model)), model_(LoadCtcModel(dir_)),
        normalize_(ParseNormalization(model_->audio_normalize())) {
    model_->to(ComputeDevice());
    model_->eval();
    std::string bytes;
    for (const char* f : {"config.json", "vocab.json", "model.safetensors"}) bytes += ReadBytes(dir_ + "/" + f);
    fingerprint_ = "ctc:" + ContentHash(bytes) + ":" + model_->audio_normalize() + ":beam" +
                   std::to_string(config.beam_width);
  }
  std::string Transcribe(const std::vector<float>& samples) override {
    if (samples.empty()) return "";
    torch::NoGradGuard no_grad;
    std::vector<float> x = samples;
    Normalize(x, normalize_);
    auto wave = torch::from_blob(x.data(), {1, static_cast<int64_t>(x.size())}, torch::kFloat32);
    return model_->Transcribe(wave, {}, config_.beam_width)[0];
  }
  std::string Fingerprint() const override { return fingerprint_; }

 private:
  CtcTranscriberConfig config_;
  std::string dir_;
  CtcModel model_;
  Normalization normalize_;
  std::string fingerprint_;
};

}  // namespace

void CtcModelConfig::Validate() const {
  encoder.Validate();
  if (final_dropout < 0 || final_dropout >= 1) throw ConfigError("ctc: final_dropout must be in [0, 1)");
  if (beam_width < 1) throw ConfigError("ctc: beam_width must be at least 1");
  if (units != "char" && units != "word") throw ConfigError("ctc: units '" + units + "' must be char or word");
  if (word_min_count < 1) throw ConfigError("ctc: word_min_count must be at least 1");
  normalization.Validate();
}

CtcModelImpl::CtcModelImpl(const AcousticEncoderConfig& encoder, CtcVocab vocab, double final_dropout,
                           NormalizeOptions normalization)
    : vocab_(std::move(vocab)), final_dropout_(final_dropout), normalization_(std::move(normalization)) {
  // Registered under the family's name, so that parameter names are HuggingFace's ForCTC names.
  encoder_ = register_module(encoder.type, std::make_shared<AcousticEncoderImpl>(encoder));
  encoder_->DisableLayerDrop();
  lm_head = register_module("lm_head", torch::nn::Linear(encoder.hidden_size, vocab_.size()));
}

CtcOutput CtcModelImpl::forward(const torch::Tensor& waveform, const torch::Tensor& lengths) {
  const auto out = encoder_->forward(waveform, lengths);
  auto hidden = torch::dropout(out.last_hidden_state(), final_dropout_, is_training());
  return {lm_head(hidden), out.lengths};
}

torch::Tensor CtcModelImpl::Loss(const CtcBatch& batch) {
  if (static_cast<int64_t>(batch.texts.size()) != batch.waveform.size(0)) {
    throw DataError("CTC batch: " + std::to_string(batch.texts.size()) + " texts for " +
                    std::to_string(batch.waveform.size(0)) + " waveforms");
  }
  std::vector<std::vector<int64_t>> targets;
  for (const auto& t : batch.texts) targets.push_back(vocab_.Encode(t, normalization_));
  const auto out = forward(batch.waveform, batch.lengths);
  return CtcLoss(out.logits, out.frame_lengths, targets, vocab_.blank_id());
}

std::vector<std::string> CtcModelImpl::Transcribe(const torch::Tensor& waveform, const torch::Tensor& lengths,
                                                  int beam_width) {
  return Decode(forward(waveform, lengths), beam_width);
}

std::vector<std::string> CtcModelImpl::Decode(const CtcOutput& out, int beam_width) const {
  const auto log_probs = torch::log_softmax(out.logits.to(torch::kFloat32), -1).to(torch::kCPU);
  const auto frames = out.frame_lengths.to(torch::kCPU);
  std::vector<std::string> texts;
  for (int64_t b = 0; b < log_probs.size(0); ++b) {
    const int64_t n = frames[b].item<int64_t>();
    const auto ids = beam_width <= 1 ? CtcGreedyDecode(log_probs[b], vocab_.blank_id(), n)
                                     : CtcBeamSearch(log_probs[b], vocab_.blank_id(), beam_width, n);
    texts.push_back(vocab_.Decode(ids));
  }
  return texts;
}

void CtcModelImpl::set_audio_normalize(const std::string& mode) {
  ParseNormalization(mode);
  audio_normalize_ = mode;
}

void CtcModelImpl::SaveDir(const std::string& dir) const {
  fs::create_directories(dir);
  WriteFileAtomic(dir + "/config.json", HfConfig(encoder_->config(), vocab_, final_dropout_).dump(2) + "\n");
  WriteFileAtomic(dir + "/preprocessor_config.json",
                  PreprocessorConfig(encoder_->config(), audio_normalize_).dump(2) + "\n");
  vocab_.Save(dir + "/vocab.json");
  SaveStateDict(*this, dir + "/model.safetensors");
}

LoadReport CtcModelImpl::LoadWeights(const std::string& path) {
  // The acoustic family's table, with the family prefix kept (it is this module's own name) and nothing
  // skipped: a CTC checkpoint holds exactly the encoder and lm_head.
  NameMap map;
  map.aliases = AcousticNameMap().aliases;
  map.optional = {encoder_->config().type + ".masked_spec_embed"};
  return LoadStateDict(*this, path, map);
}

CtcVocab CtcVocabFromTexts(const CtcModelConfig& config, const std::vector<std::string>& texts) {
  return config.units == "word" ? CtcVocab::FromTextWords(texts, config.normalization, config.word_min_count)
                                : CtcVocab::FromTexts(texts, config.normalization);
}

CtcModel CreateCtcModel(const CtcModelConfig& config, const std::vector<std::string>& texts) {
  config.Validate();
  const AcousticEncoderConfig encoder = ResolveAcousticConfig(config.encoder);
  CtcVocab vocab = config.vocab.empty() ? CtcVocabFromTexts(config, texts) : CtcVocab::Load(config.vocab);
  CtcModel model(encoder, std::move(vocab), config.final_dropout, config.normalization);
  if (!encoder.weights.empty()) model->encoder().LoadWeights(encoder.weights);
  model->encoder().SetFreeze(encoder.freeze);
  return model;
}

std::string ResolveCtcModelDir(const std::string& dir) {
  if (fs::is_regular_file(dir + "/config.json")) return dir;
  // A run's checkpoint folder, or its `.old` twin when a writer was killed mid-swap (fas/engine/checkpoint_folder.h).
  for (const char* c : {"best", "best.old", "last", "last.old"}) {
    const std::string sub = dir + "/checkpoints/" + c;
    if (fs::is_regular_file(sub + "/config.json")) return sub;
  }
  if (fs::is_regular_file(dir + "/config.yaml")) {
    throw IoError("'" + dir + "' is a run directory without a CTC checkpoint (checkpoints/best or last with "
                  "config.json); is it a task: asr run, and has it saved a checkpoint?");
  }
  throw IoError("CTC model folder " + dir + " lacks config.json (it needs config.json, model.safetensors, vocab.json)");
}

CtcModel LoadCtcModel(const std::string& model_dir) {
  const std::string dir = ResolveCtcModelDir(model_dir);
  for (const char* f : {"config.json", "model.safetensors", "vocab.json"}) {
    if (!fs::is_regular_file(dir + "/" + f)) {
      throw IoError("CTC model folder " + dir + " lacks " + f + " (it needs config.json, model.safetensors, vocab.json)");
    }
  }
  const std::string config_path = dir + "/config.json";
  const AcousticEncoderConfig encoder = ReadHfAcousticConfig(config_path);
  CtcVocab vocab = CtcVocab::Load(dir + "/vocab.json");
  nlohmann::json j = nlohmann::json::parse(ReadBytes(config_path));
  int64_t vocab_size = vocab.size();
  ReadJsonField(j, "vocab_size", vocab_size, config_path);
  if (vocab_size != vocab.size()) {
    throw ModelError(config_path + ": vocab_size " + std::to_string(vocab_size) + " differs from the " +
                     std::to_string(vocab.size()) + " tokens of vocab.json");
  }
  int64_t pad_token_id = vocab.blank_id();
  ReadJsonField(j, "pad_token_id", pad_token_id, config_path);
  if (pad_token_id != vocab.blank_id()) {
    throw ModelError(config_path + ": pad_token_id (the CTC blank) is not vocab.json's <pad>");
  }
  double final_dropout = 0.1;
  ReadJsonField(j, "final_dropout", final_dropout, config_path);
  CtcModel model(encoder, std::move(vocab), final_dropout);
  model->LoadWeights(dir + "/model.safetensors");
  try {
    model->set_audio_normalize(ReadPreprocessorNormalize(dir + "/preprocessor_config.json"));
  } catch (const ConfigError& e) {
    throw ModelError(dir + "/preprocessor_config.json: " + e.what());
  }
  return model;
}

void RegisterCtcTranscriber() {
  RegisterTranscriber("ctc", [](const TranscriberConfig& config) -> std::unique_ptr<Transcriber> {
    if (config.ctc.model.empty()) {
      throw ConfigError("the ctc back-end needs a model folder (--model DIR with config.json, model.safetensors, "
                        "vocab.json)");
    }
    if (config.ctc.beam_width < 1) throw ConfigError("ctc.beam_width must be at least 1");
    return std::make_unique<CtcTranscriber>(config.ctc);
  });
}

}  // namespace fas

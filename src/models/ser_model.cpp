#include "fas/models/ser_model.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <filesystem>

#include "fas/core/device.h"
#include "fas/core/error.h"
#include "fas/encoders/wav2vec2.h"
#include "fas/io/safetensors.h"
#include "fas/io/state_dict.h"
#include "encoder_factory.h"

namespace fas {

namespace {

void Require(bool ok, const std::string& key, const std::string& what) {
  if (!ok) throw ConfigError("model." + key + ": " + what);
}

torch::Tensor BoolMask(const torch::Tensor& m) { return m.to(torch::kBool); }

EncoderInput ToEncoderInput(const SerInput& raw) {
  return {raw.waveform, raw.lengths, raw.input_ids, raw.attention_mask};
}

// Copies `prefix`* tensors of an SER model's weights (another run's) into `encoder`, strictly: the two encoders
// must have the same architecture.
void InitEncoder(torch::nn::Module& encoder, const std::string& init_from, const std::string& prefix,
                 const std::string& key) {
  const std::string path = InitFromWeights(init_from);
  NamedTensors picked;
  for (auto& [name, tensor] : ReadSafeTensors(path)) {
    if (name.rfind(prefix, 0) == 0) picked.emplace_back(name.substr(prefix.size()), tensor);
  }
  if (picked.empty()) {
    throw ModelError("model." + key + ".init_from: '" + path + "' holds no " + prefix + "* tensors (its model has "
                     "no such pathway)");
  }
  try {
    LoadStateDict(encoder, picked, NameMap{}, path);
  } catch (const ModelError& e) {
    throw ModelError("model." + key + ".init_from: " + std::string(e.what()) + " (the encoder config must be the "
                     "one that run trained)");
  }
  spdlog::info("{} encoder initialised from {}", key, path);
}

}  // namespace

void ModelConfig::Validate() const {
  FusionHeadStreams(head);
  fusion.Validate();
  Require(!acoustic.layers.empty(), "acoustic.layers", "must name at least one hidden state");
  Require(!semantic.layers.empty(), "semantic.layers", "must name at least one hidden state");
  Require(semantic.type == "text" || semantic.type == "whisper", "semantic.type",
          "must be text or whisper, got '" + semantic.type + "'");
  Require(semantic.text_field == "asr_text" || semantic.text_field == "text", "semantic.text_field",
          "must be asr_text or text, got '" + semantic.text_field + "'");
  Require(semantic.tokenizer_vocab_size >= 8, "semantic.tokenizer_vocab_size", "must be at least 8");
}

std::string InitFromWeights(const std::string& init_from) {
  namespace fs = std::filesystem;
  std::error_code ec;
  if (!fs::is_directory(init_from, ec)) {
    if (fs::is_regular_file(init_from, ec)) return init_from;
    throw IoError("init_from: '" + init_from + "' does not exist; train that run first (in a suite, list its "
                  "model before the ones that start from it)");
  }
  for (const char* c : {"/checkpoints/best", "/checkpoints/best.old", "/checkpoints/last", "/checkpoints/last.old"}) {
    const std::string file = init_from + c + "/model.safetensors";
    if (fs::is_regular_file(file, ec)) return file;
  }
  throw IoError("init_from: run '" + init_from + "' has no checkpoint (checkpoints/best or last); train it first");
}

std::string PrepareTokenizer(ModelConfig& config, const std::vector<std::string>& texts, const std::string& dir) {
  if (config.semantic.type != "text" || !FusionHeadStreams(config.head).semantic) return "";
  if (!config.semantic.tokenizer.model.empty()) return config.semantic.tokenizer.model;
  if (!config.semantic.init_from.empty()) {
    const std::string model = config.semantic.init_from + "/tokenizer.model";
    if (!std::filesystem::is_regular_file(model)) {
      throw IoError("model.semantic.init_from: '" + model + "' does not exist (give the run directory whose text "
                    "encoder and tokenizer this model starts from, after training it)");
    }
    config.semantic.tokenizer = TokenizerConfig::ForModel(model);
    return model;
  }
  std::filesystem::create_directories(dir);
  TokenizerTrainOptions o;
  o.prefix = dir + "/tokenizer";
  o.vocab_size = config.semantic.tokenizer_vocab_size;
  o.normalize = config.semantic.tokenizer.normalize;
  o.normalization = config.semantic.tokenizer.normalization;
  o.max_length = config.semantic.tokenizer.max_length;
  config.semantic.tokenizer.model = TrainTokenizer(texts, o);
  return config.semantic.tokenizer.model;
}

SerModelImpl::SerModelImpl(const ModelConfig& config, std::vector<std::string> labels)
    : config_(config), labels_(std::move(labels)) {
  config_.Validate();
  if (labels_.empty()) throw ConfigError("the model needs a label set with at least one class");
  // The head decides which pathways exist: an unread pathway would cost encoding time and parameters.
  const HeadStreams streams = FusionHeadStreams(config_.head);
  int64_t da = 1, ds = 1;
  if (streams.acoustic) {
    acoustic_encoder_ = register_module("acoustic_encoder", models::MakeAcousticEncoder(config_.acoustic));
    da = acoustic_encoder_->hidden_size();
    if (config_.acoustic.layers.size() > 1) {
      acoustic_layers_ = register_module(
          "acoustic_layer_weights", LayerWeightedSum(static_cast<int64_t>(config_.acoustic.layers.size())));
    }
  }
  if (streams.semantic) {
    int64_t vocab = 0;
    if (config_.semantic.type == "text") {
      if (config_.semantic.tokenizer.model.empty()) {
        throw ConfigError("model.semantic.tokenizer.model: a text semantic pathway needs a tokenizer (train one "
                          "with `fas tokenizer train`, or let `fas train` do it)");
      }
      tokenizer_ = std::make_shared<Tokenizer>(config_.semantic.tokenizer);
      vocab = tokenizer_->vocab_size();
    }
    semantic_encoder_ = register_module("semantic_encoder", models::MakeSemanticEncoder(config_.semantic, vocab));
    ds = semantic_encoder_->hidden_size();
    if (config_.semantic.layers.size() > 1) {
      semantic_layers_ = register_module(
          "semantic_layer_weights", LayerWeightedSum(static_cast<int64_t>(config_.semantic.layers.size())));
    }
  }
  if (acoustic_encoder_ && !config_.acoustic.init_from.empty()) {
    InitEncoder(*acoustic_encoder_, config_.acoustic.init_from, "acoustic_encoder.", "acoustic");
  }
  if (semantic_encoder_ && !config_.semantic.init_from.empty()) {
    InitEncoder(*semantic_encoder_, config_.semantic.init_from, "semantic_encoder.", "semantic");
  }
  head_ = MakeFusionHead(config_.head, config_.fusion, da, ds, static_cast<int64_t>(labels_.size()));
  register_module("head", head_);
  ApplyFreezing();
}

void SerModelImpl::ApplyFreezing() {
  // Encoders apply their own freezing (config `freeze`); a frozen one also runs without dropout.
  if (acoustic_encoder_ && acoustic_frozen()) acoustic_encoder_->eval();
  if (semantic_encoder_ && semantic_frozen()) semantic_encoder_->eval();
}

void SerModelImpl::train(bool on) {
  torch::nn::Module::train(on);
  if (acoustic_encoder_ && acoustic_frozen()) acoustic_encoder_->eval();
  if (semantic_encoder_ && semantic_frozen()) semantic_encoder_->eval();
}

void SerModelImpl::OnTrainStep(int64_t step) { models::OnEncoderTrainStep(acoustic_encoder_, semantic_encoder_, step); }

bool SerModelImpl::acoustic_frozen() const {
  return acoustic_encoder_ && models::FrozenForTheRun(*acoustic_encoder_);
}
bool SerModelImpl::semantic_frozen() const {
  return semantic_encoder_ && models::FrozenForTheRun(*semantic_encoder_);
}
bool SerModelImpl::uses_acoustic() const { return acoustic_encoder_ != nullptr; }
bool SerModelImpl::uses_semantic() const { return semantic_encoder_ != nullptr; }

StreamFeatures SerModelImpl::Stack(const EncoderOutput& out, const std::vector<int>& layers) {
  return {torch::stack(SelectLayers(out.hidden_states, layers), 1), BoolMask(out.mask)};
}

torch::Device SerModelImpl::device() const {
  for (const auto& p : parameters()) return p.device();
  for (const auto& b : buffers()) return b.device();
  return torch::Device(torch::kCPU);
}

namespace {

// A batch on `device`: what a loader, the feature store or a caller built on the CPU.
SerInput OnDevice(const SerInput& in, const torch::Device& device) {
  SerInput out = in;
  for (torch::Tensor* t : {&out.waveform, &out.lengths, &out.input_ids, &out.attention_mask, &out.acoustic_features,
                           &out.acoustic_mask, &out.semantic_features, &out.semantic_mask, &out.keep_acoustic,
                           &out.keep_semantic}) {
    *t = ToDevice(*t, device);
  }
  return out;
}

}  // namespace

StreamFeatures SerModelImpl::EncodeAcoustic(const SerInput& raw_in) {
  const SerInput raw = OnDevice(raw_in, device());
  if (!acoustic_encoder_) throw ModelError("head '" + config_.head + "' has no acoustic pathway");
  if (!raw.waveform.defined()) throw DataError("acoustic pathway: the batch has no waveform");
  const auto* encoder = dynamic_cast<const AcousticEncoderImpl*>(acoustic_encoder_.get());
  const bool padding_changes_frames = encoder != nullptr && encoder->config().feat_extract_norm == "group";
  if (!padding_changes_frames || raw.waveform.size(0) == 1 || !raw.lengths.defined() ||
      (raw.lengths == raw.lengths.max()).all().item<bool>()) {
    return Stack(acoustic_encoder_->Encode(ToEncoderInput(raw)), config_.acoustic.layers);
  }
  // A group-norm front end (wav2vec2-base style) normalises each channel over the whole input, padding included,
  // and takes no attention mask: in a padded batch an utterance's frames would depend on its batch-mates. Each one
  // is encoded alone, at its own length, as the feature cache and a single prediction see it.
  std::vector<StreamFeatures> each;
  int64_t longest = 0;
  for (int64_t b = 0; b < raw.waveform.size(0); ++b) {
    const int64_t n = raw.lengths[b].item<int64_t>();
    SerInput one;
    one.waveform = raw.waveform.slice(0, b, b + 1).narrow(1, 0, n);
    one.lengths = raw.lengths.slice(0, b, b + 1);
    each.push_back(Stack(acoustic_encoder_->Encode(ToEncoderInput(one)), config_.acoustic.layers));
    longest = std::max(longest, each.back().states.size(2));
  }
  std::vector<torch::Tensor> states, masks;
  for (const StreamFeatures& f : each) {
    const int64_t pad = longest - f.states.size(2);
    states.push_back(torch::constant_pad_nd(f.states, {0, 0, 0, pad}));
    masks.push_back(torch::cat({f.mask, torch::zeros({1, pad}, f.mask.options())}, 1));
  }
  return {torch::cat(states, 0), torch::cat(masks, 0)};
}

StreamFeatures SerModelImpl::EncodeSemantic(const SerInput& raw_in) {
  const SerInput raw = OnDevice(raw_in, device());
  if (!semantic_encoder_) throw ModelError("head '" + config_.head + "' has no semantic pathway");
  const bool text = config_.semantic.type == "text";
  if (text ? !raw.input_ids.defined() : !raw.waveform.defined()) {
    throw DataError(std::string("semantic pathway: the batch has no ") + (text ? "input_ids" : "waveform"));
  }
  return Stack(semantic_encoder_->Encode(ToEncoderInput(raw)), config_.semantic.layers);
}

torch::Tensor SerModelImpl::Combine(const torch::Tensor& features, LayerWeightedSum& weights) {
  const torch::Tensor f = features.dim() == 3 ? features.unsqueeze(1) : features;  // [B, S, T, D]
  const int64_t expected = weights ? weights->layer_logits.size(0) : 1;
  if (f.dim() != 4 || f.size(1) != expected) {
    throw DataError("features have shape " + c10::str(features.sizes()) + "; expected [B, " +
                    std::to_string(expected) + ", T, D] (one slice a selected layer)");
  }
  return weights ? weights->Stacked(f) : f.select(1, 0);
}

SerOutput SerModelImpl::Forward(const SerInput& input_in) {
  const SerInput input = OnDevice(input_in, device());
  // A pathway's features: from the cache when given, else from its encoder (without a graph when frozen).
  auto features = [&](const torch::Tensor& cached, const torch::Tensor& cached_mask, bool frozen,
                      StreamFeatures (SerModelImpl::*encode)(const SerInput&)) -> StreamFeatures {
    if (cached.defined()) {
      if (!cached_mask.defined()) throw DataError("cached features given without their mask");
      return {cached, BoolMask(cached_mask)};
    }
    if (frozen) {
      // Under InferenceMode, so that the encoder's CPU speed routes run. In training the head keeps these
      // features for its backward, which inference tensors may not be: they are copied out as ordinary ones.
      StreamFeatures s;
      {
        c10::InferenceMode inference;
        s = (this->*encode)(input);
      }
      if (c10::InferenceMode::is_enabled() || !torch::GradMode::is_enabled()) return s;
      return {s.states.clone(), s.mask.clone()};
    }
    return (this->*encode)(input);
  };
  FusionInput f;
  if (acoustic_encoder_) {
    const StreamFeatures s = features(input.acoustic_features, input.acoustic_mask, acoustic_frozen(),
                                      &SerModelImpl::EncodeAcoustic);
    f.acoustic = Combine(s.states, acoustic_layers_);
    f.acoustic_mask = s.mask;
    f.acoustic_patched = input.acoustic_features.defined() && input.acoustic_patched;
  }
  if (semantic_encoder_) {
    const StreamFeatures s = features(input.semantic_features, input.semantic_mask, semantic_frozen(),
                                      &SerModelImpl::EncodeSemantic);
    f.semantic = Combine(s.states, semantic_layers_);
    f.semantic_mask = s.mask;
    f.semantic_patched = input.semantic_features.defined() && input.semantic_patched;
  }
  if (input.keep_acoustic.defined() && f.acoustic.defined()) {
    f.acoustic = f.acoustic * input.keep_acoustic.to(f.acoustic.scalar_type()).view({-1, 1, 1});
  }
  if (input.keep_semantic.defined() && f.semantic.defined()) {
    f.semantic = f.semantic * input.keep_semantic.to(f.semantic.scalar_type()).view({-1, 1, 1});
  }
  if ((f.acoustic_patched || f.semantic_patched) && !head_->reads_patches()) {
    throw DataError("head '" + config_.head + "' reads frames, but the cached features are patch means; extract "
                    "them again for this head (the store keeps frames for it)");
  }
  FusionOutput o = head_->Forward(f);
  return {o.logits, o.attention, o.token_stream, o.acoustic_share};
}

std::pair<torch::Tensor, torch::Tensor> DrawModalityDropout(int64_t batch, double p_acoustic, double p_semantic) {
  const torch::Tensor u = torch::rand({batch}, torch::kFloat64);
  const torch::Tensor drop_acoustic = u < p_acoustic;
  const torch::Tensor drop_semantic = (u >= p_acoustic) & (u < p_acoustic + p_semantic);
  return {(~drop_acoustic).to(torch::kFloat32), (~drop_semantic).to(torch::kFloat32)};
}

TokenBatch SerModelImpl::Tokenize(const std::vector<std::string>& texts) const {
  if (!tokenizer_) throw ModelError("the model's semantic pathway (" + config_.semantic.type + ") reads no text");
  return tokenizer_->EncodeBatch(texts);
}

std::vector<torch::Tensor> SerModelImpl::TrainableParameters() const {
  std::vector<torch::Tensor> out;
  for (const auto& p : parameters()) {
    if (p.requires_grad()) out.push_back(p);
  }
  return out;
}

ParameterGroups SerModelImpl::Groups() const {
  ParameterGroups g;
  for (const auto& item : named_parameters()) {
    const std::string& name = item.key();
    bool encoder = false;
    bool trains = item.value().requires_grad();
    for (const auto& [prefix, module] : {std::make_pair(std::string("acoustic_encoder."), acoustic_encoder_),
                                         std::make_pair(std::string("semantic_encoder."), semantic_encoder_)}) {
      if (module && name.rfind(prefix, 0) == 0) {
        encoder = true;
        trains = models::TrainsDuringRun(*module, name.substr(prefix.size()), item.value());
      }
    }
    if (trains) (encoder ? g.encoder : g.head).push_back(item.value());
  }
  return g;
}

int64_t SerModelImpl::NumTrainableParameters() const { return CountTrainableParameters(*this); }

std::vector<std::pair<std::string, int64_t>> SerModelImpl::ParameterReport() const {
  const int64_t a = acoustic_encoder_ ? CountTrainableParameters(*acoustic_encoder_) : 0;
  const int64_t s = semantic_encoder_ ? CountTrainableParameters(*semantic_encoder_) : 0;
  const int64_t h = CountTrainableParameters(*head_);
  const int64_t total = NumTrainableParameters();
  return {{"acoustic_encoder", a}, {"semantic_encoder", s}, {"layer_weights", total - a - s - h},
          {"head", h}, {"total", total}};
}

SerModel BuildModel(const ModelConfig& config, const LabelSet& labels) { return SerModel(config, labels.names); }

}  // namespace fas

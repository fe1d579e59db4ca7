#include "encoder_factory.h"

#include <algorithm>

#include "fas/core/error.h"
#include "fas/encoders/emotion2vec.h"

namespace fas::models {
namespace {

std::string PathwayName(Pathway pathway) { return pathway == Pathway::kAcoustic ? "acoustic" : "semantic"; }

std::string Join(const std::vector<std::string>& names) {
  std::string out;
  for (const auto& n : names) out += (out.empty() ? "" : ", ") + n;
  return out;
}

EncoderFamily Wav2Vec2Family() {
  return {{"wav2vec2", "hubert", "wavlm"},
          Pathway::kAcoustic,
          "AcousticEncoderConfig (model.acoustic.encoder)",
          [](const EncoderRequest& request) -> std::shared_ptr<EncoderModule> {
            AcousticEncoder encoder = CreateAcousticEncoder(request.acoustic->encoder);
            // A weighted sum over hidden states needs every layer every time (LayerDrop would skip some at random).
            if (request.acoustic->layers.size() > 1) encoder->DisableLayerDrop();
            return encoder.ptr();
          }};
}

EncoderFamily MingTokAudioFamily() {
  return {{"mingtok_audio"},
          Pathway::kAcoustic,
          "MingTokAudioConfig (model.acoustic.mingtok_audio)",
          [](const EncoderRequest& request) -> std::shared_ptr<EncoderModule> {
            return CreateMingTokAudioEncoder(request.acoustic->mingtok_audio).ptr();
          }};
}

// emotion2vec binds the acoustic encoder's config: hf_config is the config.json `fas convert emotion2vec` wrote,
// weights its model.safetensors; freeze applies, the architecture fields do not.
EncoderFamily Emotion2VecFamily() {
  return {{"emotion2vec"},
          Pathway::kAcoustic,
          "AcousticEncoderConfig (model.acoustic.encoder: hf_config, weights, freeze)",
          [](const EncoderRequest& request) -> std::shared_ptr<EncoderModule> {
            const AcousticEncoderConfig& c = request.acoustic->encoder;
            return CreateEmotion2VecEncoder(c.hf_config, c.weights, c.freeze).ptr();
          }};
}

EncoderFamily TextFamily() {
  return {{"text"},
          Pathway::kSemantic,
          "TextEncoderConfig (model.semantic.text)",
          [](const EncoderRequest& request) -> std::shared_ptr<EncoderModule> {
            const SemanticPathwayConfig& config = *request.semantic;
            TextEncoderConfig text = config.text;
            if (text.tokenizer.empty()) text.tokenizer = config.tokenizer.model;
            if (text.vocab_size == 0 && text.tokenizer.empty()) text.vocab_size = request.vocab_size;
            return CreateTextEncoder(text).ptr();
          }};
}

EncoderFamily WhisperFamily() {
  return {{"whisper"},
          Pathway::kSemantic,
          "WhisperEncoderConfig (model.semantic.whisper)",
          [](const EncoderRequest& request) -> std::shared_ptr<EncoderModule> {
            return CreateWhisperEncoder(request.semantic->whisper).ptr();
          }};
}

}  // namespace

const EncoderRegistry& EncoderRegistry::Builtin() {
  static const EncoderRegistry registry = [] {
    EncoderRegistry r;
    r.Register(Wav2Vec2Family());
    r.Register(MingTokAudioFamily());
    r.Register(Emotion2VecFamily());
    r.Register(TextFamily());
    r.Register(WhisperFamily());
    return r;
  }();
  return registry;
}

void EncoderRegistry::Register(EncoderFamily family) {
  for (const auto& name : family.names) {
    const auto names = Names(family.pathway);
    if (std::find(names.begin(), names.end(), name) != names.end()) {
      throw Error("encoder registry: " + PathwayName(family.pathway) + " encoder '" + name + "' registered twice");
    }
  }
  families_.push_back(std::move(family));
}

const EncoderFamily& EncoderRegistry::Find(Pathway pathway, const std::string& name, const std::string& field) const {
  for (const auto& family : families_) {
    if (family.pathway != pathway) continue;
    if (std::find(family.names.begin(), family.names.end(), name) != family.names.end()) return family;
  }
  throw ConfigError(field + ": unknown " + PathwayName(pathway) + " encoder '" + name +
                    "' (registered: " + Join(Names(pathway)) + ")");
}

std::vector<std::string> EncoderRegistry::Names(Pathway pathway) const {
  std::vector<std::string> names;
  for (const auto& family : families_) {
    if (family.pathway == pathway) names.insert(names.end(), family.names.begin(), family.names.end());
  }
  std::sort(names.begin(), names.end());
  return names;
}

std::shared_ptr<EncoderModule> MakeAcousticEncoder(const AcousticPathwayConfig& config) {
  // The configured type picks the family. A wav2vec2-family hf_config may name another member (its model_type
  // replaces the type in ResolveAcousticConfig), which is the same family; another family keeps its own type
  // whatever encoder.hf_config an overlay left.
  const auto& family =
      EncoderRegistry::Builtin().Find(Pathway::kAcoustic, config.encoder.type, "model.acoustic.encoder.type");
  return family.make({&config, nullptr, 0});
}

std::shared_ptr<EncoderModule> MakeSemanticEncoder(const SemanticPathwayConfig& config, int64_t vocab_size) {
  const auto& family = EncoderRegistry::Builtin().Find(Pathway::kSemantic, config.type, "model.semantic.type");
  return family.make({nullptr, &config, vocab_size});
}

bool FrozenForTheRun(EncoderModule& encoder) {
  if (auto* a = dynamic_cast<AcousticEncoderImpl*>(&encoder)) {
    return a->freeze() == "all" && a->config().unfreeze_after_steps == 0;
  }
  if (auto* t = dynamic_cast<TextEncoderImpl*>(&encoder)) return t->config().freeze;
  if (auto* w = dynamic_cast<WhisperEncoderImpl*>(&encoder)) return w->config().freeze;
  if (auto* m = dynamic_cast<MingTokAudioEncoderImpl*>(&encoder)) return m->config().freeze;
  if (auto* e = dynamic_cast<Emotion2VecEncoderImpl*>(&encoder)) return e->freeze() == "all";
  return false;
}

bool TrainsDuringRun(EncoderModule& encoder, const std::string& name, const torch::Tensor& parameter) {
  auto* a = dynamic_cast<AcousticEncoderImpl*>(&encoder);
  if (a == nullptr || a->config().unfreeze_after_steps <= 0) return parameter.requires_grad();
  // The configured freezing, not the current one: the answer must not change when the encoder unfreezes (the
  // optimiser's groups, and so a checkpoint's optimiser state, are built from it). Unfreezing relaxes it once:
  // all -> feature_extractor (the conv front end stays frozen), feature_extractor -> none.
  const std::string& configured = a->config().freeze;
  if (configured == "all") return name.rfind("feature_extractor.", 0) != 0;
  if (configured == "feature_extractor") return true;
  return parameter.requires_grad();
}

void OnEncoderTrainStep(const std::shared_ptr<EncoderModule>& acoustic, const std::shared_ptr<EncoderModule>& semantic,
                        int64_t step) {
  for (const auto& e : {acoustic, semantic}) {
    if (auto* a = dynamic_cast<AcousticEncoderImpl*>(e.get())) a->OnTrainStep(step);
  }
}

}  // namespace fas::models

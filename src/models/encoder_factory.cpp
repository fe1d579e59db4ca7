#include "encoder_factory.h"

#include "fas/core/error.h"

namespace fas::models {

std::shared_ptr<EncoderModule> MakeAcousticEncoder(const AcousticPathwayConfig& config) {
  AcousticEncoder encoder = CreateAcousticEncoder(config.encoder);
  // A weighted sum over hidden states needs every layer every time (LayerDrop would skip some at random).
  if (config.layers.size() > 1) encoder->DisableLayerDrop();
  return encoder.ptr();
}

std::shared_ptr<EncoderModule> MakeSemanticEncoder(const SemanticPathwayConfig& config, int64_t vocab_size) {
  if (config.type == "text") {
    TextEncoderConfig text = config.text;
    if (text.tokenizer.empty()) text.tokenizer = config.tokenizer.model;
    if (text.vocab_size == 0 && text.tokenizer.empty()) text.vocab_size = vocab_size;
    return CreateTextEncoder(text).ptr();
  }
  if (config.type == "whisper") return CreateWhisperEncoder(config.whisper).ptr();
  throw ConfigError("model.semantic.type: must be text or whisper, got '" + config.type + "'");
}

bool FrozenForTheRun(EncoderModule& encoder) {
  if (auto* a = dynamic_cast<AcousticEncoderImpl*>(&encoder)) {
    return a->freeze() == "all" && a->config().unfreeze_after_steps == 0;
  }
  if (auto* t = dynamic_cast<TextEncoderImpl*>(&encoder)) return t->config().freeze;
  if (auto* w = dynamic_cast<WhisperEncoderImpl*>(&encoder)) return w->config().freeze;
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

// Builds a pathway's encoder from the model config. Each encoder family registers once in the EncoderRegistry (the
// `type` names a config gives it, the config it binds, its factory); building asks the registry, so models/ names no
// family outside the registrations, and a new family is one registration.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "fas/models/ser_model.h"

namespace fas::models {

enum class Pathway { kAcoustic, kSemantic };

// What a factory is given: its pathway's config (the other is null) and, for a text encoder, the tokenizer's
// vocabulary size.
struct EncoderRequest {
  const AcousticPathwayConfig* acoustic = nullptr;
  const SemanticPathwayConfig* semantic = nullptr;
  int64_t vocab_size = 0;
};

struct EncoderFamily {
  std::vector<std::string> names;  // the `type` values that select it
  Pathway pathway = Pathway::kAcoustic;
  std::string config;  // the config it binds and where: "AcousticEncoderConfig (model.acoustic.encoder)"
  // Built, weights loaded and freezing applied as the config says.
  std::function<std::shared_ptr<EncoderModule>(const EncoderRequest&)> make;
};

class EncoderRegistry {
 public:
  // The families FAS ships: wav2vec2 / HuBERT / WavLM (acoustic), text transformer and Whisper (semantic).
  static const EncoderRegistry& Builtin();

  // Throws Error when one of its names is already registered for the pathway.
  void Register(EncoderFamily family);
  // The family `name` selects; ConfigError naming `field` and every registered name of the pathway when none does.
  const EncoderFamily& Find(Pathway pathway, const std::string& name, const std::string& field) const;
  std::vector<std::string> Names(Pathway pathway) const;  // sorted

 private:
  std::vector<EncoderFamily> families_;
};

// Built through EncoderRegistry::Builtin().
std::shared_ptr<EncoderModule> MakeAcousticEncoder(const AcousticPathwayConfig& config);
// `vocab_size`: the tokenizer's, for a text encoder (0 for Whisper).
std::shared_ptr<EncoderModule> MakeSemanticEncoder(const SemanticPathwayConfig& config, int64_t vocab_size);

// Wholly frozen now and never unfrozen later: its features can be computed once and cached.
bool FrozenForTheRun(EncoderModule& encoder);
// Whether `parameter` (named `name` within `encoder`) trains at some point of the run: now, or once the encoder
// unfreezes after N steps. The same answer before and after unfreezing.
bool TrainsDuringRun(EncoderModule& encoder, const std::string& name, const torch::Tensor& parameter);
// Forwards the step count to encoders that unfreeze after N steps.
void OnEncoderTrainStep(const std::shared_ptr<EncoderModule>& acoustic, const std::shared_ptr<EncoderModule>& semantic,
                        int64_t step);

}  // namespace fas::models

// Builds a pathway's encoder from the model config: the one place where models/ knows the concrete encoder
// families (wav2vec2 / HuBERT / WavLM; text transformer; Whisper) and their freezing rules.
#pragma once

#include <memory>
#include <string>

#include "fas/models/ser_model.h"

namespace fas::models {

// Built, weights loaded and freezing applied as the encoder config says.
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

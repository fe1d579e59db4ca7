// Internal: the engine constructors behind CreateTtsEngine.
#pragma once

#include <memory>

#include "fas/data/synth/tts.h"

namespace fas::synth {

std::unique_ptr<TtsEngine> CreateFliteEngine();
std::unique_ptr<TtsEngine> CreateFestivalEngine();
std::unique_ptr<TtsEngine> CreateEspeakEngine();

}  // namespace fas::synth

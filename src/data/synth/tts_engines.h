// Internal: the engine constructors behind CreateTtsEngine.
#pragma once

#include <memory>
#include <mutex>
#include <string>

#include "fas/data/synth/tts.h"

namespace fas::synth {

std::unique_ptr<TtsEngine> CreateFliteEngine();
std::unique_ptr<TtsEngine> CreateFestivalEngine();
std::unique_ptr<TtsEngine> CreateEspeakEngine();

// flite (its noise excitation) and espeak-ng draw from the C library's rand(), one stream for the whole process:
// an utterance's samples then depended on what had been synthesised before it, i.e. on thread timing (measured:
// 2 of 210 rms utterances differed between two runs of the tiny corpus). Both in-process engines hold this one
// lock while synthesising and reseed rand() from the request first, so that for flite the request alone decides
// the audio. espeak-ng also keeps state of its own between calls (the same request twice: 42,873 and 42,892
// samples), which reseeding does not remove.
std::mutex& InProcessTtsMutex();
void SeedLibcRand(const std::string& voice, const std::string& text, const EngineProsody& prosody);

}  // namespace fas::synth

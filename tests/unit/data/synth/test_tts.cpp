// The TTS engines obey the prosody controls the profiles rely on, measured on their output.
#include <gtest/gtest.h>

#include <cstdlib>

#include "fas/core/error.h"
#include "fas/data/synth/effects.h"
#include "fas/data/synth/tts.h"

namespace {

using fas::synth::EngineProsody;
using fas::synth::VoiceSpec;

const char* const kText = "The meeting starts at ten in the morning.";

struct Measured {
  double f0, seconds;
};

Measured Measure(fas::synth::TtsEngine& engine, const VoiceSpec& v, EngineProsody p) {
  const auto w = fas::synth::SpeakAs(engine, v, kText, p, 16000);
  const auto trimmed = fas::synth::TrimSilence(w.samples, 16000);
  return {fas::synth::MedianF0(trimmed, 16000), trimmed.size() / 16000.0};
}

void ExpectControls(const std::string& engine_name, const std::string& voice) {
  auto engine = fas::synth::CreateTtsEngine(engine_name);
  VoiceSpec v{voice, engine_name, voice};
  const Measured base = Measure(*engine, v, {});
  const Measured high = Measure(*engine, v, {1.3, 1.0, 1.0});
  const Measured slow = Measure(*engine, v, {1.0, 1.0, 1.3});
  EXPECT_GT(base.f0, 60.0) << voice;
  EXPECT_GT(base.seconds, 1.0) << voice;
  if (engine->ControlsF0(voice)) {
    EXPECT_GT(high.f0, 1.15 * base.f0) << voice;
  } else {
    EXPECT_NEAR(high.f0, base.f0, 0.05 * base.f0) << voice;  // documented: this voice keeps its own F0
  }
  EXPECT_GT(slow.seconds, 1.15 * base.seconds) << voice;
}

TEST(Tts, FliteVoicesFollowF0AndDuration) {
  for (const char* voice : {"slt", "rms", "awb", "kal16"}) ExpectControls("flite", voice);
  auto flite = fas::synth::CreateTtsEngine("flite");
  EXPECT_FALSE(flite->ControlsF0("rms"));
}

TEST(Tts, FestivalVoicesFollowF0AndDuration) {
  for (const char* voice : {"kal_diphone", "ked_diphone", "cmu_us_slt_arctic_hts"}) ExpectControls("festival", voice);
}

TEST(Tts, EspeakFollowsF0AndDuration) { ExpectControls("espeak-ng", "en-us"); }

TEST(Tts, SpeakerVariantMovesPitchButKeepsDuration) {
  auto engine = fas::synth::CreateTtsEngine("flite");
  const VoiceSpec base{"a", "flite", "awb"};
  VoiceSpec variant = base;
  variant.pitch = 1.2;
  variant.vtl = 1.08;
  const Measured b = Measure(*engine, base, {});
  const Measured v = Measure(*engine, variant, {});
  EXPECT_NEAR(v.f0 / b.f0, 1.2, 0.08);
  EXPECT_NEAR(v.seconds / b.seconds, 1.0, 0.06);
}

TEST(Tts, SameRequestSameSamplesWhateverCameBefore) {
  // flite's excitation draws from the C library's rand(): without a reseed per request, the samples depended on
  // every rand() call before them (another utterance, another thread). (espeak-ng is not in this test: it carries
  // state from call to call, so the same request twice differs by a few samples; docs/synth.md.)
  auto engine = fas::synth::CreateTtsEngine("flite");
  for (const char* voice : {"rms", "slt"}) {
    const auto first = engine->Synthesize(kText, voice, {});
    for (int i = 0; i < 7; ++i) std::rand();
    engine->Synthesize("Something else in between.", voice, {1.2, 1.0, 0.9});
    const auto again = engine->Synthesize(kText, voice, {});
    EXPECT_TRUE(first.samples == again.samples) << voice;
  }
}

TEST(Tts, UnknownEngineOrVoiceIsAConfigError) {
  EXPECT_THROW(fas::synth::CreateTtsEngine("sam"), fas::ConfigError);
  auto engine = fas::synth::CreateTtsEngine("flite");
  EXPECT_THROW(engine->Synthesize("hello", "nosuch", {}), fas::ConfigError);
}

}  // namespace

#include "fas/data/synth/tts.h"

#include <cmath>
#include <cstdlib>
#include <cstring>

#include "fas/audio/audio.h"
#include "fas/core/error.h"
#include "tts_engines.h"

namespace fas::synth {

std::unique_ptr<TtsEngine> CreateTtsEngine(const std::string& engine) {
  if (engine == "flite") return CreateFliteEngine();
  if (engine == "festival") return CreateFestivalEngine();
  if (engine == "espeak-ng") return CreateEspeakEngine();
  throw ConfigError("unknown TTS engine '" + engine + "' (known: flite, festival, espeak-ng)");
}

std::mutex& InProcessTtsMutex() {
  static std::mutex mu;
  return mu;
}

void SeedLibcRand(const std::string& voice, const std::string& text, const EngineProsody& prosody) {
  uint64_t h = 1469598103934665603ULL;  // FNV-1a: the same seed on every platform
  auto mix = [&h](const void* data, size_t n) {
    const auto* b = static_cast<const unsigned char*>(data);
    for (size_t i = 0; i < n; ++i) h = (h ^ b[i]) * 1099511628211ULL;
  };
  mix(voice.data(), voice.size());
  mix("", 1);
  mix(text.data(), text.size());
  for (double v : {prosody.f0, prosody.f0_spread, prosody.duration}) mix(&v, sizeof v);
  std::srand(static_cast<unsigned>(h ^ (h >> 32)));
}

std::vector<std::string> TtsEngineVoices(const std::string& engine) {
  if (engine == "flite") return {"slt", "rms", "awb", "kal16"};
  if (engine == "festival") return {"kal_diphone", "ked_diphone", "cmu_us_slt_arctic_hts"};
  if (engine == "espeak-ng") return {"en-us", "en", "en-gb"};
  throw ConfigError("unknown TTS engine '" + engine + "' (known: flite, festival, espeak-ng)");
}

Waveform SpeakAs(TtsEngine& engine, const VoiceSpec& voice, const std::string& text, const EngineProsody& prosody,
                 int sample_rate) {
  if (!(voice.pitch > 0.0) || !(voice.vtl > 0.5 && voice.vtl < 2.0)) {
    throw ConfigError("speaker '" + voice.name + "': pitch must be > 0 and vtl within (0.5, 2)");
  }
  // Playing samples back `vtl` times faster scales formants, F0 and tempo alike; F0 and duration are
  // pre-compensated so that only the formants (the vocal tract) move. A voice without an F0 control keeps its
  // own F0: moving it by resampling as well was measured to wreck recognition (rms: 8 % -> 84 % WER).
  EngineProsody p = prosody;
  const double warp = voice.vtl;
  p.f0 *= voice.pitch / voice.vtl;
  p.duration *= warp;
  Waveform w = engine.Synthesize(text, voice.voice, p);
  const int played_rate = static_cast<int>(std::lround(w.sample_rate * warp));
  w.samples = Resample(w.samples, played_rate, sample_rate);
  w.sample_rate = sample_rate;
  return w;
}

}  // namespace fas::synth

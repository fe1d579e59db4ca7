// Text-to-speech engines of the synthetic corpus behind one interface: flite (C API, in-process), Festival
// (a persistent `festival --pipe` process driven with Scheme) and espeak-ng (its command-line program).
#pragma once

#include <memory>
#include <string>
#include <vector>

namespace fas::synth {

// A speaker: an engine voice plus a base-pitch factor and a vocal-tract-length warp (formants scaled by `vtl`
// by resampling, with pitch and duration compensated), so that one engine voice yields several speakers.
struct VoiceSpec {
  std::string name;    // speaker id written to the manifest
  std::string engine;  // flite | festival | espeak-ng
  std::string voice;   // engine voice: slt, rms, awb, kal16 | kal_diphone, ked_diphone, cmu_us_slt_arctic_hts | en-us
  double pitch = 1.0;  // base F0 factor
  double vtl = 1.0;    // formant scaling (> 1: shorter vocal tract)

  template <class V>
  void Visit(V& v) {
    v("name", name, "speaker id in the manifest");
    v("engine", engine, "flite | festival | espeak-ng");
    v("voice", voice, "the engine's voice name");
    v("pitch", pitch, "base F0 factor");
    v("vtl", vtl, "vocal-tract-length warp (formant factor)");
  }
};

// Engine-level prosody, relative to the voice's own defaults.
struct EngineProsody {
  double f0 = 1.0;         // mean F0 factor
  double f0_spread = 1.0;  // F0 standard-deviation factor (engines without such a control ignore it)
  double duration = 1.0;   // duration stretch (> 1: slower)
};

struct Waveform {
  std::vector<float> samples;
  int sample_rate = 0;
};

class TtsEngine {
 public:
  virtual ~TtsEngine() = default;
  // Throws DataError (naming the engine, voice and text) when synthesis fails.
  virtual Waveform Synthesize(const std::string& text, const std::string& voice, const EngineProsody& prosody) = 0;
  // Whether the voice follows EngineProsody::f0 (measured per voice; see docs/synth.md).
  virtual bool ControlsF0(const std::string& voice) const { return true; }
};

// One instance per thread: a Festival instance owns its own process. Throws ConfigError on an unknown engine and
// IoError when the engine is not installed.
std::unique_ptr<TtsEngine> CreateTtsEngine(const std::string& engine);
std::vector<std::string> TtsEngineVoices(const std::string& engine);

// Speaks `text` with `voice` and the prosody, applying the speaker's pitch and vocal-tract warp, and returns
// `sample_rate` mono samples.
Waveform SpeakAs(TtsEngine& engine, const VoiceSpec& voice, const std::string& text, const EngineProsody& prosody,
                 int sample_rate);

}  // namespace fas::synth

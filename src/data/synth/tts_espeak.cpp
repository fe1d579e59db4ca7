// espeak-ng through libespeak-ng in synchronous mode. The library is one global synthesiser, so calls are
// serialised. Prosody: pitch and pitch range (0-99, 50 = the voice's default) scale with the F0 and spread
// factors; the rate (words a minute) divides by the duration stretch.
#include <espeak-ng/speak_lib.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <mutex>

#include "fas/core/error.h"
#include "tts_engines.h"

namespace fas::synth {

namespace {

std::vector<short>* g_collect = nullptr;  // written only with the mutex held

int Collect(short* wav, int n, espeak_EVENT*) {
  if (wav != nullptr && n > 0) g_collect->insert(g_collect->end(), wav, wav + n);
  return 0;
}

int Clamp99(double v) { return static_cast<int>(std::lround(std::clamp(v, 0.0, 99.0))); }

class EspeakEngine : public TtsEngine {
 public:
  EspeakEngine() {
    std::lock_guard<std::mutex> lock(InProcessTtsMutex());
    static int rate = 0;
    if (rate == 0) {
      rate = espeak_Initialize(AUDIO_OUTPUT_SYNCHRONOUS, 0, nullptr, espeakINITIALIZE_DONT_EXIT);
      if (rate <= 0) throw IoError("cannot initialise espeak-ng (install espeak-ng-data)");
      espeak_SetSynthCallback(Collect);
    }
    sample_rate_ = rate;
  }

  Waveform Synthesize(const std::string& text, const std::string& voice, const EngineProsody& p) override {
    std::lock_guard<std::mutex> lock(InProcessTtsMutex());
    if (espeak_SetVoiceByName(voice.c_str()) != EE_OK) {
      throw ConfigError("unknown espeak-ng voice '" + voice + "' (try en-us, en, en-gb)");
    }
    espeak_SetParameter(espeakPITCH, Clamp99(50.0 * p.f0), 0);
    espeak_SetParameter(espeakRANGE, Clamp99(50.0 * p.f0_spread), 0);
    espeak_SetParameter(espeakRATE, static_cast<int>(std::lround(espeakRATE_NORMAL / p.duration)), 0);
    espeak_SetParameter(espeakVOLUME, 100, 0);
    std::vector<short> pcm;
    g_collect = &pcm;
    SeedLibcRand("espeak-ng/" + voice, text, p);
    const espeak_ERROR err = espeak_Synth(text.c_str(), text.size() + 1, 0, POS_CHARACTER, 0, espeakCHARS_UTF8,
                                          nullptr, nullptr);
    espeak_Synchronize();
    g_collect = nullptr;
    if (err != EE_OK || pcm.empty()) throw DataError("espeak-ng (voice " + voice + ") failed on \"" + text + "\"");
    Waveform out;
    out.sample_rate = sample_rate_;
    out.samples.resize(pcm.size());
    for (size_t i = 0; i < pcm.size(); ++i) out.samples[i] = pcm[i] / 32768.0f;
    return out;
  }

 private:
  int sample_rate_ = 22050;
};

}  // namespace

std::unique_ptr<TtsEngine> CreateEspeakEngine() { return std::make_unique<EspeakEngine>(); }

}  // namespace fas::synth

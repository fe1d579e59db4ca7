// flite through its C API. flite keeps one voice object per voice for the whole process and has global state
// (its lexicon and regex caches), so synthesis is serialised by a mutex; it is fast enough (~0.02x real time)
// that the effects and the recogniser, which run in parallel, dominate.
// flite's headers carry no C++ linkage guards of their own.
extern "C" {
#include <flite/flite.h>
#include <flite/cst_cg.h>
}

#include <cmath>
#include <map>
#include <mutex>

#include "fas/core/error.h"
#include "tts_engines.h"

extern "C" {
cst_voice* register_cmu_us_slt(const char* voxdir);
cst_voice* register_cmu_us_rms(const char* voxdir);
cst_voice* register_cmu_us_awb(const char* voxdir);
cst_voice* register_cmu_us_kal16(const char* voxdir);
}

namespace fas::synth {

namespace {

struct FliteVoice {
  cst_voice* voice = nullptr;
  float f0_mean = 100.0f, f0_std = 10.0f;  // the voice's own targets
};

// Called with the mutex held.
FliteVoice& Voice(const std::string& name) {
  static std::map<std::string, FliteVoice> voices;
  static bool initialised = false;
  if (!initialised) {
    flite_init();
    initialised = true;
  }
  auto it = voices.find(name);
  if (it != voices.end()) return it->second;
  cst_voice* v = nullptr;
  if (name == "slt") v = register_cmu_us_slt(nullptr);
  if (name == "rms") v = register_cmu_us_rms(nullptr);
  if (name == "awb") v = register_cmu_us_awb(nullptr);
  if (name == "kal16") v = register_cmu_us_kal16(nullptr);
  if (v == nullptr) throw ConfigError("unknown flite voice '" + name + "' (known: slt, rms, awb, kal16)");
  FliteVoice fv;
  fv.voice = v;
  if (feat_present(v->features, "cg_db")) {  // clustergen voices keep their F0 statistics in the model
    const cst_cg_db* db = val_cg_db(feat_val(v->features, "cg_db"));
    fv.f0_mean = db->f0_mean;
    fv.f0_std = db->f0_stddev;
  } else {
    fv.f0_mean = get_param_float(v->features, "int_f0_target_mean", 100.0f);
    fv.f0_std = get_param_float(v->features, "int_f0_target_stddev", 10.0f);
  }
  return voices.emplace(name, fv).first->second;
}

class FliteEngine : public TtsEngine {
 public:
  // Measured: rms's output F0 does not move with int_f0_target_mean (slt, awb and kal16 follow it).
  bool ControlsF0(const std::string& voice) const override { return voice != "rms"; }

  Waveform Synthesize(const std::string& text, const std::string& voice, const EngineProsody& p) override {
    std::lock_guard<std::mutex> lock(InProcessTtsMutex());
    FliteVoice& fv = Voice(voice);
    SeedLibcRand("flite/" + voice, text, p);
    // Prosody goes on the utterance, not the shared voice, so that one request cannot leak into the next.
    cst_utterance* u = new_utterance();
    utt_set_input_text(u, text.c_str());
    utt_init(u, fv.voice);
    feat_set_float(u->features, "int_f0_target_mean", static_cast<float>(fv.f0_mean * p.f0));
    feat_set_float(u->features, "int_f0_target_stddev", static_cast<float>(fv.f0_std * p.f0_spread));
    feat_set_float(u->features, "duration_stretch", static_cast<float>(p.duration));
    if (utt_synth(u) == nullptr) {
      delete_utterance(u);
      throw DataError("flite (voice " + voice + ") failed on \"" + text + "\"");
    }
    const cst_wave* w = utt_wave(u);
    Waveform out;
    out.sample_rate = w->sample_rate;
    out.samples.resize(w->num_samples);
    for (int i = 0; i < w->num_samples; ++i) out.samples[i] = w->samples[i * w->num_channels] / 32768.0f;
    delete_utterance(u);
    if (out.samples.empty()) throw DataError("flite (voice " + voice + ") produced no audio for \"" + text + "\"");
    return out;
  }
};

}  // namespace

std::unique_ptr<TtsEngine> CreateFliteEngine() { return std::make_unique<FliteEngine>(); }

}  // namespace fas::synth

#include "fas/data/synth/config.h"

#include <set>

#include "fas/core/error.h"
#include "fas/data/synth/generator.h"

namespace fas::synth {

namespace {

void CheckFraction(const char* key, double v) {
  if (!(v >= 0.0 && v <= 1.0)) throw ConfigError(std::string("synth.") + key + " must lie in [0, 1], got " + std::to_string(v));
}

void CheckVoices(const char* key, const std::vector<VoiceSpec>& voices) {
  if (voices.empty()) throw ConfigError(std::string("synth.") + key + " lists no voices");
  std::set<std::string> names;
  for (const auto& v : voices) {
    if (v.name.empty()) throw ConfigError(std::string("synth.") + key + ": a voice has no name");
    if (!names.insert(v.name).second) throw ConfigError(std::string("synth.") + key + ": speaker '" + v.name + "' is listed twice");
    bool known = false;
    for (const auto& name : TtsEngineVoices(v.engine)) known = known || name == v.voice;
    if (!known) throw ConfigError(std::string("synth.") + key + ": " + v.engine + " has no voice '" + v.voice + "'");
  }
}

}  // namespace

const SplitSizes& SynthConfig::Sizes() const {
  auto it = sizes.find(size);
  if (it == sizes.end()) {
    std::string known;
    for (const auto& [k, v] : sizes) known += (known.empty() ? "" : ", ") + k;
    throw ConfigError("synth size '" + size + "' is not defined under sizes (known: " + known + ")");
  }
  return it->second;
}

void SynthConfig::Validate() const {
  const SplitSizes& s = Sizes();
  for (int n : {s.train, s.dev, s.test, s.conflict}) {
    if (n < 7) throw ConfigError("synth.sizes." + size + ": every split needs at least 7 utterances (one per class)");
  }
  CheckFraction("heldout_sentence_fraction", heldout_sentence_fraction);
  CheckFraction("template_fraction", template_fraction);
  CheckFraction("conflict_fraction", conflict_fraction);
  CheckFraction("weak_tone_fraction", weak_tone_fraction);
  CheckFraction("weak_tone_strength", weak_tone_strength);
  if (heldout_sentence_fraction <= 0.0 || heldout_sentence_fraction >= 1.0) {
    throw ConfigError("synth.heldout_sentence_fraction must lie strictly between 0 and 1");
  }
  CheckVoices("voices", voices);
  CheckVoices("conflict_voices", conflict_voices);
  for (const auto& v : voices) {
    for (const auto& c : conflict_voices) {
      if (v.name == c.name) throw ConfigError("synth: speaker '" + v.name + "' is both in voices and conflict_voices");
    }
  }
  for (const auto& e : Emotions()) {
    if (!profiles.count(e)) throw ConfigError("synth.profiles has no profile for '" + e + "'");
  }
  for (const auto& [name, p] : profiles) {
    bool known = false;
    for (const auto& e : Emotions()) known = known || e == name;
    if (!known) throw ConfigError("synth.profiles: '" + name + "' is not one of the seven emotions");
    if (!(p.f0 > 0.0 && p.f0_spread >= 0.0 && p.duration > 0.0)) {
      throw ConfigError("synth.profiles." + name + ": f0 and duration must be > 0, f0_spread >= 0");
    }
  }
  if (sample_rate < 8000) throw ConfigError("synth.sample_rate must be at least 8000");
  if (asr_vocabulary != "pool" && asr_vocabulary != "full") {
    throw ConfigError("synth.asr_vocabulary must be 'pool' or 'full', got '" + asr_vocabulary + "'");
  }
}

}  // namespace fas::synth

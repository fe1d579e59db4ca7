// Configuration of the synthetic conflict corpus (configs/data/synth.yaml); see docs/synth.md.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "fas/asr/transcriber.h"
#include "fas/data/synth/tts.h"

namespace fas::synth {

// The tone of one emotion: engine prosody (relative to the voice) and signal effects.
struct ToneProfile {
  double f0 = 1.0;         // mean F0 factor
  double f0_spread = 1.0;  // F0 range factor
  double duration = 1.0;   // duration stretch (> 1 slower)
  double gain_db = 0.0;
  double tilt_db = 0.0;
  double tremolo_depth = 0.0;
  double tremolo_hz = 6.0;
  double clip_drive = 0.0;
  double pause_ms = 0.0;

  template <class V>
  void Visit(V& v) {
    v("f0", f0, "mean F0 factor");
    v("f0_spread", f0_spread, "F0 range factor");
    v("duration", duration, "duration stretch (>1 slower)");
    v("gain_db", gain_db, "level relative to the reference");
    v("tilt_db", tilt_db, "spectral tilt (>0 brighter)");
    v("tremolo_depth", tremolo_depth, "amplitude-modulation depth");
    v("tremolo_hz", tremolo_hz, "amplitude-modulation rate");
    v("clip_drive", clip_drive, "soft-clipping drive");
    v("pause_ms", pause_ms, "silence inserted at up to two word gaps");
  }
};

// Per-utterance random variation: factors vary log-normally (sigma in log units), dB and ms values normally.
struct ToneJitter {
  double f0 = 0.06;
  double f0_spread = 0.15;
  double duration = 0.06;
  double gain_db = 1.5;
  double tilt_db = 1.5;
  double tremolo_depth = 0.05;
  double clip_drive = 0.4;
  double pause_ms = 40.0;

  template <class V>
  void Visit(V& v) {
    v("f0", f0);
    v("f0_spread", f0_spread);
    v("duration", duration);
    v("gain_db", gain_db);
    v("tilt_db", tilt_db);
    v("tremolo_depth", tremolo_depth);
    v("clip_drive", clip_drive);
    v("pause_ms", pause_ms);
  }
};

// Utterances per split; each is rounded to a multiple of the 7 classes.
struct SplitSizes {
  int train = 0, dev = 0, test = 0, conflict = 0;

  template <class V>
  void Visit(V& v) {
    v("train", train);
    v("dev", dev);
    v("test", test);
    v("conflict", conflict);
  }
};

struct SynthConfig {
  uint64_t seed = 1234;
  std::string size = "default";  // a key of `sizes`
  std::map<std::string, SplitSizes> sizes;
  std::string corpus = "fas-synth";
  std::string pool_dir = "data/synth";  // sentences/ and templates/; relative: to the cwd or a parent of the config
  double heldout_sentence_fraction = 0.2;  // of each emotion's sentences and templates, kept for conflict.jsonl
  double template_fraction = 0.3;          // share of utterances whose words come from a template
  double conflict_fraction = 0.25;         // in train/dev/test; conflict.jsonl is all conflict
  double weak_tone_fraction = 0.2;         // utterances whose tone is pulled toward neutral
  double weak_tone_strength = 0.3;         // how much of the profile a weak-tone utterance keeps
  double reference_dbfs = -26.0;           // every utterance's level before the profile's gain
  int sample_rate = 16000;
  std::vector<VoiceSpec> voices;           // train/dev/test speakers
  std::vector<VoiceSpec> conflict_voices;  // conflict.jsonl speakers (held out of training)
  std::map<std::string, ToneProfile> profiles;
  ToneJitter jitter;
  bool run_asr = true;
  // "pool": the recogniser's dictionary is restricted to the words of every sentence pool (all emotions
  // alike) plus the language model's `asr.pocketsphinx.frequent_words` most probable words; "full": the whole
  // 130k-word dictionary (about 3x slower).
  std::string asr_vocabulary = "pool";
  TranscriberConfig asr;

  template <class V>
  void Visit(V& v) {
    v("seed", seed, "every random choice derives from it");
    v("size", size, "which entry of `sizes` to generate");
    v("sizes", sizes, "utterances per split for each size");
    v("corpus", corpus, "the manifest's corpus field");
    v("pool_dir", pool_dir, "sentence pools and templates");
    v("heldout_sentence_fraction", heldout_sentence_fraction, "sentences kept for conflict.jsonl only");
    v("template_fraction", template_fraction, "share of utterances worded from templates");
    v("conflict_fraction", conflict_fraction, "conflict share of train/dev/test");
    v("weak_tone_fraction", weak_tone_fraction, "share of utterances with weak tone");
    v("weak_tone_strength", weak_tone_strength, "profile share kept by a weak-tone utterance");
    v("reference_dbfs", reference_dbfs, "level before the profile gain");
    v("sample_rate", sample_rate, "output rate");
    v("voices", voices, "in-domain speakers");
    v("conflict_voices", conflict_voices, "held-out speakers of conflict.jsonl");
    v("profiles", profiles, "one tone profile per emotion");
    v("jitter", jitter, "per-utterance variation");
    v("run_asr", run_asr, "fill asr_text with the recogniser");
    v("asr_vocabulary", asr_vocabulary, "pool | full");
    v("asr", asr, "recogniser settings");
  }

  // Throws ConfigError naming the key: unknown size, missing or unknown profile, empty voice list, fractions
  // outside [0,1].
  void Validate() const;
  const SplitSizes& Sizes() const;
};

}  // namespace fas::synth

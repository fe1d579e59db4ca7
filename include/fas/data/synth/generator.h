// The synthetic conflict corpus: plans every utterance from the seed (words, tone, speaker, split), renders them
// in parallel (TTS, effects, WAV, ASR), and writes the manifests. Same seed and config, same bytes.
#pragma once

#include <cstdint>
#include <map>
#include <random>
#include <string>
#include <vector>

#include "fas/asr/wer.h"
#include "fas/data/synth/config.h"
#include "fas/data/synth/effects.h"
#include "fas/data/synth/pool.h"

namespace fas::synth {

// The 7 canonical emotions, in label order.
const std::vector<std::string>& Emotions();

struct PlannedUtterance {
  std::string id, split, label, text_label, text, template_text;  // template_text: "" for a pool sentence
  VoiceSpec voice;
  bool conflict = false;
  bool weak_tone = false;
  uint64_t seed = 0;
};

// All utterances of all splits, in output order (train, dev, test, conflict).
std::vector<PlannedUtterance> PlanCorpus(const SynthConfig& config, const SentencePool& pool);

struct Tone {
  EngineProsody prosody;
  EffectParams effects;
};
// The profile of `label` (pulled toward neutral when `weak`), with per-utterance jitter drawn from `rng`.
Tone DrawTone(const SynthConfig& config, const std::string& label, bool weak, std::mt19937_64& rng);

struct SynthStats {
  std::map<std::string, int> utterances;  // per split
  double audio_seconds = 0.0;
  double wall_seconds = 0.0;
  double asr_decoded_seconds = 0.0;  // audio actually decoded (not answered from the cache)
  int64_t asr_cached = 0;
  std::map<std::string, WerCounts> wer_by_split, wer_by_speaker, wer_by_engine;
  // Measured tone: per split and label, mean of the per-utterance median F0 and RMS level (dBFS).
  struct ToneCell {
    double f0_sum = 0.0, dbfs_sum = 0.0, seconds_sum = 0.0;
    int n = 0, n_f0 = 0;
  };
  std::map<std::string, std::map<std::string, ToneCell>> tone;
  std::string vocabulary;  // path of the recogniser vocabulary, when restricted
};

// Renders the corpus into `out_dir` (wavs/<split>/<id>.wav, <split>.jsonl, synth_report.json) on `threads`
// threads. `config_dir` is where relative paths of the config are also looked up.
SynthStats GenerateCorpus(const SynthConfig& config, const std::string& out_dir, const std::string& config_dir,
                          int threads);

// Where `pool_dir` is: as given, relative to the cwd, or relative to `config_dir` or one of its parents.
std::string ResolvePoolDir(const std::string& pool_dir, const std::string& config_dir);

}  // namespace fas::synth

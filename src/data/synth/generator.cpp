#include "fas/data/synth/generator.h"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <nlohmann/json.hpp>
#include <thread>

#include "fas/audio/audio.h"
#include "fas/core/error.h"
#include "fas/core/log.h"
#include "fas/core/progress.h"
#include "fas/core/runtime.h"
#include "fas/data/manifest.h"
#include "rng.h"

namespace fs = std::filesystem;

namespace fas::synth {

namespace {

const char* const kSplits[] = {"train", "dev", "test", "conflict"};

int SplitSize(const SplitSizes& s, const std::string& split) {
  if (split == "train") return s.train;
  if (split == "dev") return s.dev;
  if (split == "test") return s.test;
  return s.conflict;
}

// Hands out an emotion's sentences and templates round-robin from a seeded order, so that every sentence is used
// about equally often before any repeats.
class WordSource {
 public:
  WordSource(std::vector<std::string> sentences, std::vector<std::string> templates, std::mt19937_64& rng)
      : sentences_(std::move(sentences)), templates_(std::move(templates)) {
    Shuffle(sentences_, rng);
    Shuffle(templates_, rng);
  }
  // Returns {text, template} ("" template for a pool sentence).
  std::pair<std::string, std::string> Next(bool use_template, const SentencePool& pool, std::mt19937_64& rng) {
    if (use_template && !templates_.empty()) {
      const std::string& t = templates_[next_template_++ % templates_.size()];
      return {ExpandTemplate(t, pool.slots, rng), t};
    }
    return {sentences_[next_sentence_++ % sentences_.size()], ""};
  }

 private:
  std::vector<std::string> sentences_, templates_;
  size_t next_sentence_ = 0, next_template_ = 0;
};

double LogLerp(double neutral, double target, double s) {
  return std::exp(std::log(neutral) + s * (std::log(target) - std::log(neutral)));
}

}  // namespace

const std::vector<std::string>& Emotions() {
  static const std::vector<std::string> e = {"neutral", "happy", "sad", "angry", "surprise", "fear", "disgust"};
  return e;
}

std::vector<PlannedUtterance> PlanCorpus(const SynthConfig& config, const SentencePool& pool) {
  const auto& emotions = Emotions();
  const int n_classes = static_cast<int>(emotions.size());
  std::vector<PlannedUtterance> all;
  // In-domain splits draw words from one rotation per emotion (so dev and test continue where train stopped);
  // conflict.jsonl from the held-out side only.
  std::map<std::string, WordSource> indomain, heldout;
  for (const auto& e : emotions) {
    std::mt19937_64 rng(DeriveSeed(config.seed, "synth/words/" + e));
    const EmotionPool& ep = pool.emotions.at(e);
    indomain.emplace(e, WordSource(ep.sentences, ep.templates, rng));
    heldout.emplace(e, WordSource(ep.heldout_sentences, ep.heldout_templates, rng));
  }
  for (const std::string split : kSplits) {
    const bool zero_shot = split == "conflict";
    const int per_class = std::max(1, SplitSize(config.Sizes(), split) / n_classes);
    const auto& voices = zero_shot ? config.conflict_voices : config.voices;
    std::mt19937_64 rng(DeriveSeed(config.seed, "synth/plan/" + split));
    std::vector<PlannedUtterance> items;
    for (int c = 0; c < n_classes; ++c) {
      const int n_conflict =
          zero_shot ? per_class : static_cast<int>(std::lround(per_class * config.conflict_fraction));
      const int n_weak = static_cast<int>(std::lround(per_class * config.weak_tone_fraction));
      // Which of this class's items are weak, and which speaker each gets, are shuffled independently of conflict.
      std::vector<int> weak_order(per_class), speaker_order(per_class);
      for (int k = 0; k < per_class; ++k) weak_order[k] = speaker_order[k] = k;
      Shuffle(weak_order, rng);
      Shuffle(speaker_order, rng);
      std::vector<bool> weak(per_class, false);
      for (int k = 0; k < n_weak; ++k) weak[weak_order[k]] = true;
      for (int k = 0; k < per_class; ++k) {
        PlannedUtterance u;
        u.split = split;
        u.label = emotions[c];
        u.conflict = k < n_conflict;
        // Conflict words rotate over the six other emotions, starting at a class-dependent offset so that the
        // words' emotions stay balanced across the split as well.
        const int text_class = u.conflict ? (c + 1 + (k + c) % (n_classes - 1)) % n_classes : c;
        u.text_label = emotions[text_class];
        u.weak_tone = weak[k];
        u.voice = voices[speaker_order[k] % voices.size()];
        const bool use_template = Uniform01(rng) < config.template_fraction;
        auto& source = (zero_shot ? heldout : indomain).at(u.text_label);
        std::tie(u.text, u.template_text) = source.Next(use_template, pool, rng);
        items.push_back(std::move(u));
      }
    }
    Shuffle(items, rng);
    for (size_t i = 0; i < items.size(); ++i) {
      char id[64];
      std::snprintf(id, sizeof(id), "%s-%05zu", split.c_str(), i);
      items[i].id = id;
      items[i].seed = DeriveSeed(config.seed, "synth/utt/" + items[i].id);
      all.push_back(std::move(items[i]));
    }
  }
  return all;
}

Tone DrawTone(const SynthConfig& config, const std::string& label, bool weak, std::mt19937_64& rng) {
  const ToneProfile& n = config.profiles.at("neutral");
  const ToneProfile& p = config.profiles.at(label);
  const double s = weak ? config.weak_tone_strength : 1.0;
  const ToneJitter& j = config.jitter;
  auto lin = [s](double a, double b) { return a + s * (b - a); };
  Tone t;
  t.prosody.f0 = LogLerp(n.f0, p.f0, s) * std::exp(j.f0 * Normal(rng));
  t.prosody.f0_spread = LogLerp(std::max(n.f0_spread, 1e-3), std::max(p.f0_spread, 1e-3), s) *
                        std::exp(j.f0_spread * Normal(rng));
  t.prosody.duration = LogLerp(n.duration, p.duration, s) * std::exp(j.duration * Normal(rng));
  t.effects.gain_db = lin(n.gain_db, p.gain_db) + j.gain_db * Normal(rng);
  t.effects.tilt_db = lin(n.tilt_db, p.tilt_db) + j.tilt_db * Normal(rng);
  t.effects.tremolo_depth = std::clamp(lin(n.tremolo_depth, p.tremolo_depth) + j.tremolo_depth * Normal(rng), 0.0, 0.9);
  t.effects.tremolo_hz = lin(n.tremolo_hz, p.tremolo_hz) * std::exp(0.1 * Normal(rng));
  t.effects.clip_drive = std::max(0.0, lin(n.clip_drive, p.clip_drive) + j.clip_drive * Normal(rng));
  t.effects.pause_ms = std::max(0.0, lin(n.pause_ms, p.pause_ms) + j.pause_ms * Normal(rng));
  return t;
}

std::string ResolvePoolDir(const std::string& pool_dir, const std::string& config_dir) {
  const fs::path p(pool_dir);
  if (p.is_absolute() || fs::exists(p / "sentences")) return p.string();
  for (fs::path d = fs::absolute(config_dir.empty() ? "." : config_dir); !d.empty(); d = d.parent_path()) {
    if (fs::exists(d / p / "sentences")) return (d / p).string();
    if (d == d.parent_path()) break;
  }
  throw ConfigError("synth.pool_dir '" + pool_dir + "' not found (relative to the working directory or to a folder above '" +
                    config_dir + "')");
}

SynthStats GenerateCorpus(const SynthConfig& config, const std::string& out_dir, const std::string& config_dir,
                          int threads) {
  config.Validate();
  const auto t0 = std::chrono::steady_clock::now();
  const SentencePool pool = LoadSentencePool(ResolvePoolDir(config.pool_dir, config_dir), Emotions(),
                                             config.heldout_sentence_fraction, config.seed);
  std::vector<PlannedUtterance> plan = PlanCorpus(config, pool);
  fs::create_directories(out_dir);
  for (const std::string split : kSplits) fs::create_directories(fs::path(out_dir) / "wavs" / split);

  SynthStats stats;
  TranscriberConfig asr = config.asr;
  if (config.run_asr && config.asr_vocabulary == "pool" && asr.backend == "pocketsphinx") {
    stats.vocabulary = (fs::path(out_dir) / "asr_vocabulary.txt").string();
    std::ofstream vocab(stats.vocabulary);
    for (const auto& w : pool.Vocabulary()) vocab << w << '\n';
    if (!vocab) throw IoError("cannot write '" + stats.vocabulary + "'");
    vocab.close();
    asr.pocketsphinx.vocabulary = stats.vocabulary;
    std::vector<std::string> missing;
    ResolvePocketSphinxDictionary(asr.pocketsphinx, asr.ResolvedCacheDir() + "/dicts", &missing);
    if (!missing.empty()) {
      std::string list;
      for (size_t i = 0; i < missing.size() && i < 10; ++i) list += " " + missing[i];
      spdlog::warn("{} pool words have no pronunciation in the dictionary and cannot be recognised:{}", missing.size(), list);
    }
  }

  std::vector<Utterance> rows(plan.size());
  std::vector<std::string> engines(plan.size());
  std::vector<double> f0(plan.size(), 0.0), dbfs(plan.size(), 0.0), seconds(plan.size(), 0.0);
  std::atomic<size_t> next{0};
  std::atomic<int64_t> cached{0};
  std::mutex mu;
  std::exception_ptr error;
  double decoded_seconds = 0.0;
  threads = std::max(1, std::min<int>(threads, static_cast<int>(plan.size())));
  Progress progress("synth", static_cast<int64_t>(plan.size()), "utt");

  auto worker = [&]() {
    try {
      std::map<std::string, std::unique_ptr<TtsEngine>> tts;  // per thread: Festival owns a process
      std::unique_ptr<CachedTranscriber> recogniser;
      if (config.run_asr) recogniser = std::make_unique<CachedTranscriber>(asr);
      for (size_t i = next++; i < plan.size(); i = next++) {
        const PlannedUtterance& u = plan[i];
        std::mt19937_64 rng(u.seed);
        const Tone tone = DrawTone(config, u.label, u.weak_tone, rng);
        auto& engine = tts[u.voice.engine];
        if (!engine) engine = CreateTtsEngine(u.voice.engine);
        Waveform w = SpeakAs(*engine, u.voice, u.text, tone.prosody, config.sample_rate);
        std::vector<float> samples = TrimSilence(w.samples, w.sample_rate);
        samples = ApplyEffects(samples, w.sample_rate, tone.effects, config.reference_dbfs, Uniform01(rng), rng());
        const std::string rel = "wavs/" + u.split + "/" + u.id + ".wav";
        const std::string path = (fs::path(out_dir) / rel).string();
        WriteAudio(path, samples, config.sample_rate);

        Utterance& row = rows[i];
        row.id = u.id;
        row.audio = rel;
        row.text = u.text;
        row.label = u.label;
        row.text_label = u.text_label;
        row.conflict = u.conflict;
        row.speaker = u.voice.name;
        row.corpus = config.corpus;
        row.split = u.split;
        row.language = "en";
        row.duration = static_cast<double>(samples.size()) / config.sample_rate;
        row.extra["engine"] = u.voice.engine;
        row.extra["weak_tone"] = u.weak_tone;
        if (!u.template_text.empty()) row.extra["template"] = u.template_text;
        if (recogniser) {
          bool hit = false;
          row.asr_text = recogniser->TranscribeFile(path, &hit);
          if (hit) ++cached;
        }
        engines[i] = u.voice.engine;
        f0[i] = MedianF0(samples, config.sample_rate);
        dbfs[i] = RmsDbfs(samples);
        seconds[i] = row.duration;
        progress.Advance();
      }
      if (recogniser) {
        std::lock_guard<std::mutex> lock(mu);
        decoded_seconds += recogniser->decoded_seconds();
      }
    } catch (...) {
      std::lock_guard<std::mutex> lock(mu);
      if (!error) error = std::current_exception();
      next = plan.size();
    }
  };
  std::vector<std::thread> pool_threads;
  for (int t = 1; t < threads; ++t) pool_threads.emplace_back(worker);
  worker();
  for (auto& t : pool_threads) t.join();
  progress.Finish();
  if (error) std::rethrow_exception(error);

  for (const std::string split : kSplits) {
    std::vector<Utterance> part;
    for (const auto& r : rows) {
      if (r.split == split) part.push_back(r);
    }
    WriteManifest((fs::path(out_dir) / (split + ".jsonl")).string(), part);
    stats.utterances[split] = static_cast<int>(part.size());
  }
  for (size_t i = 0; i < rows.size(); ++i) {
    stats.audio_seconds += seconds[i];
    auto& cell = stats.tone[rows[i].split][rows[i].label];
    ++cell.n;
    cell.dbfs_sum += dbfs[i];
    cell.seconds_sum += seconds[i];
    if (f0[i] > 0.0) {
      cell.f0_sum += f0[i];
      ++cell.n_f0;
    }
    if (config.run_asr) {
      const WerCounts c = ComputeWer(rows[i].text, rows[i].asr_text);
      stats.wer_by_split[rows[i].split] += c;
      stats.wer_by_speaker[rows[i].speaker] += c;
      stats.wer_by_engine[engines[i]] += c;
    }
  }
  stats.asr_cached = cached;
  stats.asr_decoded_seconds = decoded_seconds;
  stats.wall_seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();

  nlohmann::json report;
  report["seed"] = config.seed;
  report["size"] = config.size;
  report["utterances"] = stats.utterances;
  report["audio_seconds"] = stats.audio_seconds;
  report["asr_vocabulary"] = config.asr_vocabulary;
  for (const auto* table : {&stats.wer_by_split, &stats.wer_by_speaker, &stats.wer_by_engine}) {
    const char* key = table == &stats.wer_by_split ? "wer_by_split" : table == &stats.wer_by_speaker ? "wer_by_speaker" : "wer_by_engine";
    for (const auto& [name, c] : *table) {
      report[key][name] = {{"wer", c.Wer()}, {"substitutions", c.substitutions}, {"deletions", c.deletions},
                           {"insertions", c.insertions}, {"ref_words", c.ref_words}, {"utterances", c.utterances}};
    }
  }
  for (const auto& [split, by_label] : stats.tone) {
    for (const auto& [label, cell] : by_label) {
      report["tone"][split][label] = {{"n", cell.n},
                                      {"mean_f0_hz", cell.n_f0 ? cell.f0_sum / cell.n_f0 : 0.0},
                                      {"mean_rms_dbfs", cell.dbfs_sum / cell.n},
                                      {"mean_seconds", cell.seconds_sum / cell.n}};
    }
  }
  std::ofstream(fs::path(out_dir) / "synth_report.json") << report.dump(2) << '\n';
  return stats;
}

}  // namespace fas::synth

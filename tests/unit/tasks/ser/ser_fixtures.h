// Small SER inputs for the task's tests: noise utterances with their manifest, and the settings of a tiny
// acoustic_only run over them.
#pragma once

#include <filesystem>
#include <random>
#include <string>
#include <vector>

#include "fas/audio/audio.h"
#include "support/test_support.h"

namespace fas::testing {

// `n` utterances of noise (0.25 s and longer, louder by class) and their manifest, in `dir`.
inline void WriteNoiseCorpus(const TempDir& dir, const std::string& manifest, int n) {
  std::mt19937 rng(7);
  std::normal_distribution<float> noise(0.0f, 0.1f);
  const char* labels[] = {"happy", "sad", "angry", "neutral"};
  std::string lines;
  for (int i = 0; i < n; ++i) {
    std::vector<float> wave(4000 + 400 * i);
    for (auto& x : wave) x = noise(rng) * static_cast<float>(1 + i % 4);
    const std::string wav = manifest + ".u" + std::to_string(i) + ".wav";
    WriteAudio(dir / wav, wave, 16000);
    lines += "{\"id\": \"u" + std::to_string(i) + "\", \"audio\": \"" + wav + "\", \"label\": \"" + labels[i % 4] +
             "\"}\n";
  }
  WriteFile(dir / manifest, lines);
}

// The settings of a tiny acoustic_only run (configs/models/acoustic_only.yaml) over WriteNoiseCorpus's
// train.jsonl and `dev`.
inline std::vector<std::string> TinyAcousticRun(const TempDir& d, const std::string& dev) {
  return {"data.root=" + d.path(), "data.batch_size=4", "data.max_train_seconds=0", "data.num_workers=0", "eval=[]",
          "model.fusion.d_model=32", "model.acoustic.encoder.hidden_size=32",
          "model.acoustic.encoder.intermediate_size=64", "model.acoustic.encoder.mask_time_prob=0",
          "train.warmup=0", "data.train=train.jsonl", "data.dev=" + dev};
}

inline std::string AcousticOnlyConfig() { return SourceDir() + "/configs/models/acoustic_only.yaml"; }

// Entries the feature stores under a cache folder hold (the lines of every store's index.jsonl).
inline int StoredEntries(const std::filesystem::path& dir) {
  int n = 0;
  if (!std::filesystem::exists(dir)) return 0;
  for (const auto& e : std::filesystem::recursive_directory_iterator(dir)) {
    if (e.path().filename() != "index.jsonl") continue;
    for (const auto& shard : JsonLines(e.path().string())) n += static_cast<int>(shard.at("entries").size());
  }
  return n;
}

}  // namespace fas::testing

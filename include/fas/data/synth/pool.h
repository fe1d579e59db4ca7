// The words of the synthetic corpus: per-emotion sentence pools and templates (data/synth/), split into the
// sentences training may see and those kept for conflict.jsonl.
#pragma once

#include <cstdint>
#include <map>
#include <random>
#include <string>
#include <vector>

namespace fas::synth {

struct EmotionPool {
  std::vector<std::string> sentences;  // in-domain (train/dev/test)
  std::vector<std::string> templates;
  std::vector<std::string> heldout_sentences;  // conflict.jsonl only
  std::vector<std::string> heldout_templates;
};

struct SentencePool {
  std::map<std::string, EmotionPool> emotions;
  std::map<std::string, std::vector<std::string>> slots;  // {name} -> fillers

  // Every word any sentence or template expansion can contain (normalised), for the recogniser's vocabulary.
  std::vector<std::string> Vocabulary() const;
};

// Reads <dir>/sentences/<emotion>.txt and <dir>/templates/<emotion>.txt (+ slots.txt) for each emotion, and
// moves a seeded `heldout_fraction` of each emotion's sentences and templates to the held-out side. Throws
// IoError/DataError naming the file: missing file, fewer than 60 distinct sentences, a sentence shared by two
// emotions, an unknown slot.
SentencePool LoadSentencePool(const std::string& dir, const std::vector<std::string>& emotions,
                              double heldout_fraction, uint64_t seed);

// Fills every {slot} of `tmpl` with a filler drawn from `rng`.
std::string ExpandTemplate(const std::string& tmpl, const std::map<std::string, std::vector<std::string>>& slots,
                           std::mt19937_64& rng);

}  // namespace fas::synth

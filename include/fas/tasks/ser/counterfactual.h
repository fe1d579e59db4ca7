// Counterfactual pairing (train.counterfactual): a training example keeps its voice and its label (the voice's)
// but, with probability `prob`, takes its semantic stream from another training utterance whose words carry a
// different emotion. Training then sees tone and words disagree far more often than the 25 % of conflicts a
// corpus has, so a fusion head fit to it cannot simply follow the words.
#pragma once

#include <cstdint>
#include <vector>

namespace fas {

class CounterfactualPairing {
 public:
  // labels[i]: utterance i's label (the voice's emotion); word_emotions[i]: its words' emotion, the same classes,
  // -1 when unknown (such an utterance never lends its words). Throws ConfigError when no utterance has a known
  // word emotion.
  CounterfactualPairing(std::vector<int64_t> labels, std::vector<int64_t> word_emotions, int64_t num_classes);

  // For each item of a batch, the utterance its semantic stream comes from: itself, or with probability `prob` an
  // utterance (drawn uniformly) whose words' emotion differs from the item's label; itself when there is none.
  // Draws from LibTorch's generator, which the trainer seeds for every batch: a function of (seed, epoch, batch).
  std::vector<int64_t> Partners(const std::vector<int64_t>& items, double prob) const;

  // Utterances whose words' emotion is known.
  int64_t lenders() const { return lenders_; }

 private:
  std::vector<int64_t> labels_;
  std::vector<std::vector<int64_t>> by_word_emotion_;  // class -> utterances whose words carry it
  int64_t lenders_ = 0;
};

}  // namespace fas

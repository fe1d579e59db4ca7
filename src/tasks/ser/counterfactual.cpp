#include "fas/tasks/ser/counterfactual.h"

#include <torch/torch.h>

#include "fas/core/error.h"

namespace fas {

CounterfactualPairing::CounterfactualPairing(std::vector<int64_t> labels, std::vector<int64_t> word_emotions,
                                             int64_t num_classes)
    : labels_(std::move(labels)), by_word_emotion_(static_cast<size_t>(num_classes)) {
  for (size_t i = 0; i < word_emotions.size(); ++i) {
    const int64_t e = word_emotions[i];
    if (e < 0 || e >= num_classes) continue;
    by_word_emotion_[static_cast<size_t>(e)].push_back(static_cast<int64_t>(i));
    ++lenders_;
  }
  if (lenders_ == 0) {
    throw ConfigError("train.counterfactual needs the words' emotion of training utterances: `text_label` in the "
                      "manifest, or train.counterfactual.text_model naming a run of a words-only model "
                      "(configs/models/text_emotion.yaml) to predict it; none has one");
  }
}

std::vector<int64_t> CounterfactualPairing::Partners(const std::vector<int64_t>& items, double prob) const {
  const int64_t n = static_cast<int64_t>(items.size());
  // Two draws an item whatever happens, so that the generator advances the same way for every batch of a size.
  const torch::Tensor u = torch::rand({n}, torch::kFloat64), pick = torch::rand({n}, torch::kFloat64);
  const auto u_at = u.accessor<double, 1>();
  const auto pick_at = pick.accessor<double, 1>();
  std::vector<int64_t> partners(items.begin(), items.end());
  for (int64_t k = 0; k < n; ++k) {
    if (u_at[k] >= prob) continue;
    const int64_t label = labels_[static_cast<size_t>(items[static_cast<size_t>(k)])];
    const bool known = label >= 0 && label < static_cast<int64_t>(by_word_emotion_.size());
    const int64_t candidates =
        lenders_ - (known ? static_cast<int64_t>(by_word_emotion_[static_cast<size_t>(label)].size()) : 0);
    if (candidates == 0) continue;
    int64_t at = std::min(candidates - 1, static_cast<int64_t>(pick_at[k] * static_cast<double>(candidates)));
    for (size_t c = 0; c < by_word_emotion_.size(); ++c) {
      if (static_cast<int64_t>(c) == label) continue;
      const auto& group = by_word_emotion_[c];
      if (at < static_cast<int64_t>(group.size())) {
        partners[static_cast<size_t>(k)] = group[static_cast<size_t>(at)];
        break;
      }
      at -= static_cast<int64_t>(group.size());
    }
  }
  return partners;
}

}  // namespace fas

#include "fas/train/ser_dataset.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <numeric>
#include <random>

#include "fas/audio/audio.h"
#include "fas/core/error.h"
#include "fas/core/runtime.h"

namespace fas {

SerDataset::SerDataset(const std::string& manifest, const LabelSet& labels, const SerDatasetOptions& options) {
  ManifestReadOptions ro;
  ro.skip_bad = options.skip_bad;
  ro.require_label = options.require_label;
  manifest_ = ReadManifest(manifest, ro);
  for (const auto& s : manifest_.skipped) spdlog::warn("{}:{}: skipped ({})", manifest, s.line, s.reason);
  for (size_t i = 0; i < manifest_.utterances.size(); ++i) {
    const Utterance& u = manifest_.utterances[i];
    Item it;
    it.utt = static_cast<int>(i);
    if (!u.label.empty()) {
      std::string mapped = u.label;
      if (options.label_map != nullptr) {
        mapped = options.label_map->Apply(u.label, labels);
        if (mapped.empty()) {
          ++report_.dropped[u.label];
          continue;
        }
        if (mapped != u.label) ++report_.mapped[u.label + "->" + mapped];
      }
      it.label = labels.Index(mapped);
      if (it.label < 0) {
        throw DataError(manifest + ":" + std::to_string(u.line) + ": label '" + mapped + "' of '" + u.id +
                        "' is not in the label set " + labels.name + " (set data.label_map for this corpus)");
      }
      ++report_.kept;
    }
    if (!options.text_field.empty()) {
      it.text = options.text_field == "text" ? u.text : options.text_field == "asr_text" ? u.asr_text : "";
      if (options.text_field != "text" && options.text_field != "asr_text") {
        throw ConfigError("model.semantic.text_field '" + options.text_field + "' is unknown; use asr_text or text");
      }
      if (it.text.empty() && options.require_text) {
        throw DataError(manifest + ":" + std::to_string(u.line) + ": utterance '" + u.id + "' has no " +
                        options.text_field + " (run `fas transcribe` on the manifest, or set "
                        "model.semantic.text_field: text)");
      }
    }
    it.seconds = u.duration > 0 ? u.duration : ProbeAudio(u.audio_path).duration - u.offset;
    items_.push_back(std::move(it));
  }
  if (!report_.dropped.empty()) spdlog::info("{}: labels {}", manifest, report_.Summary());
}

std::vector<int64_t> SerDataset::ClassCounts(int num_classes) const {
  std::vector<int64_t> counts(static_cast<size_t>(num_classes), 0);
  for (const auto& it : items_) {
    if (it.label >= 0 && it.label < num_classes) ++counts[static_cast<size_t>(it.label)];
  }
  return counts;
}

std::vector<std::vector<int64_t>> SerDataset::Batches(int batch_size, bool shuffle, uint64_t seed,
                                                      int64_t epoch) const {
  std::vector<int64_t> order(items_.size());
  std::iota(order.begin(), order.end(), 0);
  std::mt19937_64 rng(DeriveSeed(seed, "batches/epoch " + std::to_string(epoch)));
  if (shuffle) {
    std::shuffle(order.begin(), order.end(), rng);
    const size_t window = static_cast<size_t>(batch_size) * 32;
    for (size_t b = 0; b < order.size(); b += window) {
      const auto end = order.begin() + static_cast<std::ptrdiff_t>(std::min(order.size(), b + window));
      std::stable_sort(order.begin() + static_cast<std::ptrdiff_t>(b), end,
                       [&](int64_t x, int64_t y) { return items_[x].seconds < items_[y].seconds; });
    }
  }
  std::vector<std::vector<int64_t>> batches;
  for (size_t b = 0; b < order.size(); b += static_cast<size_t>(batch_size)) {
    batches.emplace_back(order.begin() + static_cast<std::ptrdiff_t>(b),
                         order.begin() + static_cast<std::ptrdiff_t>(std::min(order.size(), b + batch_size)));
  }
  if (shuffle) std::shuffle(batches.begin(), batches.end(), rng);
  return batches;
}

std::pair<torch::Tensor, torch::Tensor> SerDataset::LoadAudio(const std::vector<int64_t>& batch, double max_seconds,
                                                              uint64_t seed, int64_t epoch) const {
  std::vector<std::vector<float>> waves;
  waves.reserve(batch.size());
  int64_t longest = 0;
  for (int64_t i : batch) {
    const Utterance& u = utterance(i);
    AudioReadOptions ro;
    ro.offset = u.offset;
    ro.duration = u.duration;
    if (max_seconds > 0 && seconds(i) > max_seconds) {
      std::mt19937_64 rng(DeriveSeed(seed, "crop/epoch " + std::to_string(epoch) + "/" + u.id));
      ro.offset = u.offset + std::uniform_real_distribution<double>(0, seconds(i) - max_seconds)(rng);
      ro.duration = max_seconds;
    }
    waves.push_back(ReadAudio(u.audio_path, ro));
    longest = std::max<int64_t>(longest, static_cast<int64_t>(waves.back().size()));
  }
  torch::Tensor wave = torch::zeros({static_cast<int64_t>(batch.size()), longest});
  torch::Tensor lengths = torch::empty({static_cast<int64_t>(batch.size())}, torch::kInt64);
  for (size_t b = 0; b < waves.size(); ++b) {
    const int64_t n = static_cast<int64_t>(waves[b].size());
    std::copy(waves[b].begin(), waves[b].end(), wave[static_cast<int64_t>(b)].data_ptr<float>());
    lengths[static_cast<int64_t>(b)] = n;
  }
  return {wave, lengths};
}

}  // namespace fas

#include "fas/tasks/ser/ser_dataset.h"

#include <spdlog/spdlog.h>

#include <algorithm>

#include "fas/core/error.h"

namespace fas {

void ValidateLabelField(const std::string& field) {
  if (field != "label" && field != "text_label") {
    throw ConfigError("data.label_field '" + field + "' is unknown; use label or text_label");
  }
}

SerDataset::SerDataset(const std::string& manifest, const LabelSet& labels, const SerDatasetOptions& options) {
  if (options.text_field != "text" && options.text_field != "asr_text" && !options.text_field.empty()) {
    throw ConfigError("model.semantic.text_field '" + options.text_field + "' is unknown; use asr_text or text");
  }
  DatasetOptions d;
  d.labels = labels;
  d.label_map = options.label_map;
  d.manifest.skip_bad = options.skip_bad;
  ValidateLabelField(options.label_field);
  d.manifest.require_label = options.require_label && options.label_field == "label";
  Manifest m = ReadManifest(manifest, d.manifest);
  if (options.label_field == "text_label") {
    for (Utterance& u : m.utterances) {
      if (u.text_label.empty()) {
        throw DataError(manifest + ":" + std::to_string(u.line) + ": utterance '" + u.id +
                        "' has no text_label (data.label_field: text_label needs the words' emotion on every line)");
      }
      u.label = u.text_label;
      u.conflict.reset();
    }
  }
  audio_ = std::make_shared<AudioDataset>(std::move(m), d);
  for (const auto& s : audio_->skipped()) spdlog::warn("{}:{}: skipped ({})", manifest, s.line, s.reason);
  texts_.reserve(static_cast<size_t>(audio_->size()));
  for (int64_t i = 0; i < audio_->size(); ++i) {
    const Utterance& u = audio_->utterance(i);
    texts_.push_back(options.text_field == "text" ? u.text : options.text_field == "asr_text" ? u.asr_text : "");
    if (texts_.back().empty() && options.require_text) {
      throw DataError(manifest + ":" + std::to_string(u.line) + ": utterance '" + u.id + "' has no " +
                      options.text_field + " (run `fas transcribe` on the manifest, or set "
                      "model.semantic.text_field: text)");
    }
  }
}

std::vector<int64_t> SerDataset::ClassCounts(int num_classes) const {
  std::vector<int64_t> counts(static_cast<size_t>(num_classes), 0);
  for (int64_t l : audio_->labels()) {
    if (l >= 0 && l < num_classes) ++counts[static_cast<size_t>(l)];
  }
  return counts;
}

std::vector<std::vector<int64_t>> SerDataset::Batches(const LoaderConfig& loader, bool train, uint64_t seed,
                                                      int64_t epoch, int rank, int world_size) const {
  return PlanBatches(audio_->durations(), audio_->labels(), loader, train, seed, epoch, rank, world_size).batches;
}

std::vector<float> SerDataset::LoadUtterance(int64_t i, const LoaderConfig& loader) const {
  LoaderConfig inline_decode = loader;
  inline_decode.num_workers = 0;
  return DataLoader(audio_, inline_decode, false, 0).LoadUtterance(i);
}

std::pair<torch::Tensor, torch::Tensor> PadWaveforms(const std::vector<std::vector<float>>& waves) {
  int64_t longest = 0;
  for (const auto& w : waves) longest = std::max<int64_t>(longest, static_cast<int64_t>(w.size()));
  const int64_t b = static_cast<int64_t>(waves.size());
  torch::Tensor wave = torch::zeros({b, longest});
  torch::Tensor lengths = torch::empty({b}, torch::kInt64);
  for (int64_t k = 0; k < b; ++k) {
    const auto& w = waves[static_cast<size_t>(k)];
    std::copy(w.begin(), w.end(), wave[k].data_ptr<float>());
    lengths[k] = static_cast<int64_t>(w.size());
  }
  return {wave, lengths};
}

}  // namespace fas

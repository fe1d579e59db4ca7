// The utterances an SER run trains or evaluates on: the data module's AudioDataset (labels mapped onto the model's
// label set, durations known) plus the transcript the semantic pathway reads. Batch plans come from the data
// module's PlanBatches, a function of (seed, epoch) only, so a resumed run sees the same batches as an
// uninterrupted one, whether the batch is decoded by the DataLoader or assembled from the feature cache.
#pragma once

#include <torch/torch.h>

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "fas/data/labels.h"
#include "fas/data/loader.h"
#include "fas/data/manifest.h"

namespace fas {

struct SerDatasetOptions {
  std::string text_field;     // transcript field the semantic pathway reads ("" when it reads none)
  bool require_text = false;  // a missing transcript is an error (a text semantic pathway)
  bool skip_bad = false;      // bad manifest lines are listed and left out
  // A line without the label the run learns is a bad line (an error naming it, or with skip_bad a listed skip):
  // training and dev manifests.
  bool require_label = false;
  // "text_label": every utterance's target is its words' emotion (each must have one); its conflict flag is
  // dropped, since target and words then always agree.
  std::string label_field = "label";
  const LabelMap* label_map = nullptr;
};

// Throws ConfigError unless `field` is one of the fields a run can learn: label or text_label.
void ValidateLabelField(const std::string& field);

class SerDataset {
 public:
  SerDataset(const std::string& manifest, const LabelSet& labels, const SerDatasetOptions& options);

  int64_t size() const { return audio_->size(); }
  const Utterance& utterance(int64_t i) const { return audio_->utterance(i); }
  int label(int64_t i) const { return static_cast<int>(audio_->label(i)); }  // -1 when unlabelled
  const std::string& text(int64_t i) const { return texts_[static_cast<size_t>(i)]; }
  const std::string& manifest_path() const { return audio_->manifest_path(); }
  const LabelMapReport& label_report() const { return audio_->label_report(); }
  std::shared_ptr<const AudioDataset> audio() const { return audio_; }

  // Utterances a class has, over the label set.
  std::vector<int64_t> ClassCounts(int num_classes) const;

  // The batches of an epoch as the DataLoader plans them (training: shuffled, bucketed; evaluation: in order);
  // with world_size > 1, this rank's shard of them (data/loader.h).
  std::vector<std::vector<int64_t>> Batches(const LoaderConfig& loader, bool train, uint64_t seed, int64_t epoch,
                                            int rank = 0, int world_size = 1) const;

  // One whole utterance as the loader decodes it in evaluation (resampled, normalised per `loader`).
  std::vector<float> LoadUtterance(int64_t i, const LoaderConfig& loader) const;

 private:
  std::shared_ptr<const AudioDataset> audio_;
  std::vector<std::string> texts_;
};

// Waveforms [B, T] zero-padded and lengths [B] of single utterances (the feature cache and prediction).
std::pair<torch::Tensor, torch::Tensor> PadWaveforms(const std::vector<std::vector<float>>& waves);

}  // namespace fas

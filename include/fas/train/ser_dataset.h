// The utterances an SER run trains or evaluates on: a manifest with its labels mapped onto the model's label set,
// and batches whose order is a function of (seed, epoch) only, so that a resumed run sees the same batches as an
// uninterrupted one.
#pragma once

#include <torch/torch.h>

#include <cstdint>
#include <string>
#include <vector>

#include "fas/data/labels.h"
#include "fas/data/manifest.h"

namespace fas {

struct SerDatasetOptions {
  std::string text_field = "asr_text";  // transcript field the semantic pathway reads ("" when it reads none)
  bool require_text = false;            // a missing transcript is an error (a text semantic pathway)
  bool require_label = true;            // training / evaluation need labels; prediction does not
  bool skip_bad = false;
  const LabelMap* label_map = nullptr;  // corpus labels onto the label set; null = already in it
};

class SerDataset {
 public:
  SerDataset(const std::string& manifest, const LabelSet& labels, const SerDatasetOptions& options);

  int64_t size() const { return static_cast<int64_t>(items_.size()); }
  const Utterance& utterance(int64_t i) const { return manifest_.utterances[static_cast<size_t>(items_[i].utt)]; }
  int label(int64_t i) const { return items_[i].label; }  // -1 when unlabelled
  const std::string& text(int64_t i) const { return items_[i].text; }
  double seconds(int64_t i) const { return items_[i].seconds; }
  const Manifest& manifest() const { return manifest_; }
  const LabelMapReport& label_report() const { return report_; }

  // Utterances a class has, over the label set.
  std::vector<int64_t> ClassCounts(int num_classes) const;

  // Batches of `batch_size` utterances. Training (shuffle): utterances shuffled from (seed, epoch), sorted by
  // length within windows of 32 batches (less padding), and the batches shuffled again; evaluation: manifest order.
  std::vector<std::vector<int64_t>> Batches(int batch_size, bool shuffle, uint64_t seed, int64_t epoch) const;

  // Waveforms [B, T] (16 kHz, zero-padded) and lengths [B]. With max_seconds > 0, longer utterances are cropped
  // at an offset drawn from (seed, epoch, utterance), so a crop is the same in a resumed run.
  std::pair<torch::Tensor, torch::Tensor> LoadAudio(const std::vector<int64_t>& batch, double max_seconds = 0,
                                                    uint64_t seed = 0, int64_t epoch = 0) const;

 private:
  struct Item {
    int utt = 0;
    int label = -1;
    std::string text;
    double seconds = 0;
  };
  Manifest manifest_;
  std::vector<Item> items_;
  LabelMapReport report_;
};

}  // namespace fas

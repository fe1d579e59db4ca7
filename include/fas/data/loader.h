// From a manifest to padded batches of waveforms, for training and evaluation.
//
//   AudioDataset data = AudioDataset::Load("train.jsonl", {.labels = CanonicalLabels()});
//   DataLoader loader(std::make_shared<AudioDataset>(std::move(data)), config.loader, /*train=*/true, seed);
//   for (int64_t epoch = 0; epoch < epochs; ++epoch) {
//     loader.StartEpoch(epoch);                        // plans the epoch; workers start decoding at once
//     while (auto batch = loader.Next()) { ... batch->waveform ... }
//   }
//
// Guarantees the trainer can rely on:
// - Determinism: which utterances form which batch, in which order, each training crop and each augmentation
//   draw are functions of (seed, epoch, utterance) only; never of thread timing or of how many workers run. A
//   resumed run calls StartEpoch(epoch) and sees the same batches as an uninterrupted one.
// - Batches come out in plan order. Workers (num_workers threads) decode up to `prefetch` batches ahead;
//   stats().wait_seconds says how long Next() blocked in total.
// - Training: shuffled from (seed, epoch) when `shuffle`; crops utterances longer than max_train_seconds at a
//   random offset (reading only that span); augmentation when loader.augment.enabled. Evaluation: whole
//   utterances, never shuffled, never augmented; every utterance appears exactly once.
// - Bucketing sorts utterances by duration within windows of `bucket_window` batches, then shuffles the batches;
//   plan().padding_ratio is the fraction of the padded waveform tensor that is padding.
// - Sharding (rank, world_size): all ranks plan the same epoch and take every world_size-th batch, so shards are
//   disjoint. In training each rank gets the same number of batches (the last < world_size batches of an epoch
//   are left out; which ones changes with the shuffle); in evaluation the last rank may have one batch fewer.
// - Bad audio (corrupt, truncated, NaN, zero length): an error naming the utterance, its manifest line and the
//   file; with skip_bad the utterance is left out of its batch, listed in skipped() and logged, never silently.
#pragma once

#include <torch/torch.h>

#include <condition_variable>
#include <cstdint>
#include <exception>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "fas/audio/augment.h"
#include "fas/data/labels.h"
#include "fas/data/manifest.h"

namespace fas {

struct LoaderConfig {
  int batch_size = 8;                   // most utterances a batch; 0 = no count limit (needs max_batch_seconds)
  double max_batch_seconds = 0;         // > 0: most padded seconds a batch (size x longest utterance)
  bool bucketing = true;                // batches of similar duration (less padding)
  int bucket_window = 32;               // batches per sorting window when bucketing a shuffled epoch
  bool shuffle = true;                  // training only; evaluation keeps the manifest order
  double max_train_seconds = 0;         // > 0: training crops longer utterances at a random offset
  int num_workers = 2;                  // decoding threads; 0 = decode on the caller's thread inside Next()
  int prefetch = 4;                     // batches decoded ahead of the consumer
  bool class_balanced = false;          // training: draw utterances with probability 1 / (size of their class)
  int sample_rate = 16000;              // every waveform is resampled to this
  std::string normalize = "none";       // none | peak | rms | mean_var (wav2vec2's do_normalize)
  std::string text_field = "asr_text";  // transcript field copied into Batch::texts: asr_text | text | "" (none)
  bool skip_bad = false;                // undecodable audio is skipped and listed instead of failing
  AugmentConfig augment;                // training only; off by default

  template <class V>
  void Visit(V& v) {
    v("batch_size", batch_size, "most utterances a batch (0: limited by max_batch_seconds only)");
    v("max_batch_seconds", max_batch_seconds, "most padded seconds a batch (0: no limit)");
    v("bucketing", bucketing, "group utterances of similar duration");
    v("bucket_window", bucket_window, "batches per sorting window when bucketing");
    v("shuffle", shuffle, "shuffle training batches from (seed, epoch)");
    v("max_train_seconds", max_train_seconds, "random crop length in training (0: whole utterances)");
    v("num_workers", num_workers, "decoding threads (0: decode inline)");
    v("prefetch", prefetch, "batches decoded ahead");
    v("class_balanced", class_balanced, "sample training utterances inversely to class frequency");
    v("sample_rate", sample_rate, "waveform sample rate");
    v("normalize", normalize, "none | peak | rms | mean_var");
    v("text_field", text_field, "transcript field: asr_text | text | empty");
    v("skip_bad", skip_bad, "skip and list undecodable audio instead of failing");
    v("augment", augment);
  }
  void Validate() const;  // throws ConfigError naming the field
};

struct DatasetOptions {
  LabelSet labels = CanonicalLabels();
  const LabelMap* label_map = nullptr;  // corpus labels onto `labels`; null: labels must already be in the set
  ManifestReadOptions manifest;         // skip_bad here also skips lines whose label is unknown
  int probe_threads = 0;                // threads probing files without `duration` (0: hardware concurrency)
};

// A manifest with labels resolved to class indices and every utterance's duration known.
class AudioDataset {
 public:
  AudioDataset(Manifest manifest, const DatasetOptions& options);
  static AudioDataset Load(const std::string& manifest_path, const DatasetOptions& options);

  int64_t size() const { return static_cast<int64_t>(utterances_.size()); }
  const Utterance& utterance(int64_t i) const { return utterances_[static_cast<size_t>(i)]; }
  const std::vector<Utterance>& utterances() const { return utterances_; }
  int64_t label(int64_t i) const { return labels_[static_cast<size_t>(i)]; }            // -1: none
  int64_t text_label(int64_t i) const { return text_labels_[static_cast<size_t>(i)]; }  // -1: none
  // 1, 0, or -1 when unknown; derived from label != text_label when the manifest has no `conflict`.
  int64_t conflict(int64_t i) const { return conflicts_[static_cast<size_t>(i)]; }
  double seconds(int64_t i) const { return seconds_[static_cast<size_t>(i)]; }
  const std::vector<double>& durations() const { return seconds_; }
  const std::vector<int64_t>& labels() const { return labels_; }
  const LabelSet& label_set() const { return label_set_; }
  const LabelMapReport& label_report() const { return report_; }
  const std::vector<SkippedLine>& skipped() const { return skipped_; }  // manifest lines left out, with why
  const std::string& manifest_path() const { return manifest_path_; }
  double total_seconds() const;

 private:
  std::string manifest_path_;
  std::vector<Utterance> utterances_;
  std::vector<int64_t> labels_, text_labels_, conflicts_;
  std::vector<double> seconds_;
  LabelSet label_set_;
  LabelMapReport report_;
  std::vector<SkippedLine> skipped_;
};

// Which utterances form which batch in one epoch (a pure function: the same arguments give the same plan).
struct BatchPlan {
  std::vector<std::vector<int64_t>> batches;  // dataset indices
  double audio_seconds = 0;                   // sum of (cropped) utterance durations
  double padded_seconds = 0;                  // sum over batches of size x longest
  double padding_ratio = 0;                   // 1 - audio / padded
};
BatchPlan PlanBatches(const std::vector<double>& seconds, const std::vector<int64_t>& labels,
                      const LoaderConfig& config, bool train, uint64_t seed, int64_t epoch, int rank = 0,
                      int world_size = 1);

struct Batch {
  int64_t epoch = 0;
  int64_t index = 0;                // position in this rank's epoch
  std::vector<int64_t> items;       // indices into the AudioDataset (AudioDataset::utterance)
  std::vector<std::string> ids;
  torch::Tensor waveform;           // [B, T] float32, zero-padded
  torch::Tensor lengths;            // [B] int64, samples
  torch::Tensor attention_mask;     // [B, T] bool, true on real samples
  torch::Tensor labels;             // [B] int64, -1 when unknown
  torch::Tensor text_labels;        // [B] int64, -1 when unknown
  torch::Tensor conflict;           // [B] int64: 1 conflict, 0 congruent, -1 unknown
  std::vector<std::string> texts;   // LoaderConfig::text_field of each utterance ("" when absent)
  int64_t size() const { return static_cast<int64_t>(ids.size()); }
};

struct LoaderStats {
  int64_t batches = 0;        // delivered by Next() since construction
  double audio_seconds = 0;   // decoded audio delivered, at the output rate
  double wait_seconds = 0;    // time Next() spent blocked on workers
  int64_t skipped = 0;        // utterances left out (skip_bad)
};

class DataLoader {
 public:
  DataLoader(std::shared_ptr<const AudioDataset> data, const LoaderConfig& config, bool train, uint64_t seed,
             int rank = 0, int world_size = 1);
  ~DataLoader();
  DataLoader(const DataLoader&) = delete;
  DataLoader& operator=(const DataLoader&) = delete;

  // Plans `epoch` and starts decoding it; abandons whatever was left of the previous one.
  void StartEpoch(int64_t epoch);
  // The next batch of the epoch, or nullopt after the last. Rethrows a decoding error (as fas::Error).
  std::optional<Batch> Next();

  int64_t num_batches() const { return static_cast<int64_t>(plan_.batches.size()); }
  const BatchPlan& plan() const { return plan_; }
  LoaderStats stats() const;
  std::vector<SkippedLine> skipped() const;  // utterances skipped for bad audio (each listed once)
  const AudioDataset& dataset() const { return *data_; }

  // Decodes one utterance as the loader would in evaluation (whole, resampled, normalised).
  std::vector<float> LoadUtterance(int64_t item) const;

 private:
  struct Slot {
    std::optional<Batch> batch;
    std::exception_ptr error;
  };
  Slot Build(int64_t epoch, int64_t index, const std::vector<int64_t>& items);
  std::vector<float> Decode(int64_t item, int64_t epoch, bool train, std::string* error) const;
  void RecordSkip(int64_t item, const std::string& reason);
  void WorkerLoop();

  std::shared_ptr<const AudioDataset> data_;
  LoaderConfig config_;
  bool train_;
  uint64_t seed_;
  int rank_, world_size_;
  int normalization_;

  BatchPlan plan_;
  int64_t epoch_ = -1;
  mutable std::mutex mu_;
  std::condition_variable work_cv_, ready_cv_;
  uint64_t generation_ = 0;
  int64_t next_claim_ = 0;
  int64_t consumed_ = 0;
  std::map<int64_t, Slot> ready_;
  bool stop_ = false;
  std::vector<std::thread> workers_;
  LoaderStats stats_;
  std::set<std::string> skipped_ids_;
  std::vector<SkippedLine> skipped_;
};

}  // namespace fas

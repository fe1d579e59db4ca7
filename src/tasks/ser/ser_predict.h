// Batches and predictions of the SER task over a dataset: shared by training (ser_task.cpp) and by the commands on a
// finished run (ser_run.cpp). Private to src/tasks/ser.
#pragma once

#include <future>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "fas/data/labels.h"
#include "fas/data/loader.h"
#include "fas/eval/metrics.h"
#include "fas/models/ser_model.h"
#include "fas/tasks/ser/experiment_config.h"
#include "fas/tasks/ser/feature_cache.h"
#include "fas/tasks/ser/ser_dataset.h"

namespace fas {

class DataParallel;

LabelSet LoadLabels(const DataConfig& d);
// A label map given as a file or a corpus name; nullopt for "" and "none".
std::optional<LabelMap> LoadMap(const std::string& spec);
// Whether the model reads a transcript (a text semantic pathway that its head uses).
bool ReadsText(const ModelConfig& m);

// A finished (or stopped) run: the class names it was trained with (its run.json), and its model with the weights
// of the checkpoint chosen for evaluation, in eval mode.
LabelSet RunLabels(const ExperimentConfig& cfg, const std::string& run_dir);
SerModel LoadRunModel(const ExperimentConfig& cfg, const std::string& run_dir, const LabelSet& labels);

// The emotion of each utterance's words, as indices of `labels` (-1: unknown): the manifest's `text_label`, else,
// when `text_model` names a run of a words-only model, that model's prediction from the utterance's transcript.
std::vector<int64_t> WordEmotions(const SerDataset& data, const LabelSet& labels, const std::string& text_model,
                                  const LoaderConfig& loader);

// `labelled`: every utterance must carry the label the run learns (training and dev); evaluation manifests may
// hold unlabelled utterances, which are predicted and not scored.
SerDatasetOptions SerOptions(const ExperimentConfig& cfg, const std::optional<LabelMap>& map, bool labelled = false);

// Whether batches must be decoded from audio: a pathway the model reads whose features are not cached.
bool NeedsAudio(SerModel& model, const FeatureCache* cache);

// The rest of a batch: cached features where the cache has them, token ids for a text pathway. The waveform (when
// needed) is already in `in`, decoded by the DataLoader.
void CompleteInput(SerModel& model, const FeatureCache* cache, const SerDataset& data,
                   const std::vector<int64_t>& batch, SerInput& in);

// The batches of one pass over a dataset: decoded by a DataLoader when audio is needed, otherwise planned alone
// (the same plan) and assembled from the cache, so a cached epoch decodes no audio at all.
class BatchStream {
 public:
  // rank / world_size: this rank's shard of every epoch (data/loader.h's sharding). `cache`: the features that
  // batches read when no audio is needed; an utterance it lacks (skip_bad: unreadable audio) is left out. Those
  // batches are read one ahead, on a thread, while the caller computes on the current one: an epoch from the
  // store is then bounded by the step, not by copying the mapped shards into batches.
  BatchStream(const SerDataset& data, const LoaderConfig& loader, bool train, uint64_t seed, bool needs_audio,
              const FeatureCache* cache, int rank = 0, int world_size = 1);
  int64_t NumBatches(int64_t epoch) const;
  void Start(int64_t epoch, int64_t first);
  // Utterances the DataLoader left out for unusable audio (skip_bad), each listed once.
  std::vector<SkippedLine> skipped() const;
  // The next batch's items, with the waveform filled in when decoding, or its cached features when reading the
  // store; false at the end of the pass.
  bool Next(std::vector<int64_t>& items, SerInput& in);

 private:
  struct Read {
    std::vector<int64_t> items;
    SerInput in;
  };
  // The next batch of the plan with an utterance in it (skip_bad leaves out what the cache lacks).
  std::optional<std::vector<int64_t>> NextItems();
  void ReadAhead();
  const SerDataset& data_;
  LoaderConfig loader_cfg_;
  bool train_;
  uint64_t seed_;
  int rank_, world_size_;
  std::unique_ptr<DataLoader> loader_;
  std::vector<std::vector<int64_t>> plan_;
  int64_t next_ = 0;
  std::vector<bool> cached_;  // skip_bad over a cache: whether each utterance is in it (empty: all are)
  const FeatureCache* cache_ = nullptr;  // read ahead from (null: batches carry items only)
  std::future<Read> ahead_;              // the batch after the one last returned
};

torch::Tensor BatchLabels(const SerDataset& data, const std::vector<int64_t>& batch);

// Counterfactual pairing: the semantic stream of each example from `sources` (an utterance of `data` per batch item),
// read from the cache when it holds the semantic pathway, else tokenized from the sources' transcripts.
void TakeSemanticFrom(SerModel& model, const FeatureCache* cache, const SerDataset& data,
                      const std::vector<int64_t>& sources, SerInput& in);

// Predictions over a whole dataset in manifest order (model in eval mode, no gradient); `loss` gets the mean
// cross-entropy over the labelled utterances. Data-parallel: each rank predicts its shard of the batches and the
// probabilities are summed across ranks, so every rank returns the predictions for the whole dataset. An
// utterance the loader skipped (skip_bad: unusable audio) has no prediction: it is left out, counted in
// `skipped_audio` and listed (this rank's) in `skipped`. `semantic_sources` (by dataset index): the utterance whose
// semantic stream each one is heard with (a counterfactual dev set); null: its own.
std::vector<Prediction> PredictDataset(SerModel& model, const FeatureCache* cache, const SerDataset& data,
                                       const LoaderConfig& loader, double* loss = nullptr,
                                       DataParallel* parallel = nullptr, int64_t* skipped_audio = nullptr,
                                       std::vector<SkippedLine>* skipped = nullptr,
                                       const std::vector<int64_t>* semantic_sources = nullptr);

// Predicts `manifest` and writes run_dir/eval/NAME/ (results.json, predictions.jsonl, skipped.jsonl).
EvalMetrics EvaluateInto(SerModel& model, FeatureCache* cache, const ExperimentConfig& cfg,
                         const std::string& run_dir, const std::string& manifest, const std::string& name,
                         const std::optional<LabelMap>& map, const LabelSet& labels,
                         DataParallel* parallel = nullptr);

}  // namespace fas

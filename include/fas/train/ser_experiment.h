// SER runs end to end: `fas train` (model, data, feature cache, trainer, final evaluations), `fas eval` and
// `fas predict` on a run directory, and `fas extract`.
//
// Run directory: config.yaml (fully resolved), train.log, metrics.jsonl, checkpoints/{last,best}/ (model.safetensors,
// optimizer.pt, trainer_state.json, config.yaml), eval/NAME/{results.json,predictions.jsonl}; a tokenizer trained
// for the run (tokenizer.model) when the config names none.
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "fas/asr/transcriber.h"
#include "fas/eval/metrics.h"
#include "fas/train/experiment_config.h"
#include "fas/train/trainer.h"

namespace fas {

struct TrainRunOptions {
  std::string run_dir;  // empty: runs/NAME
  bool resume = false;
  std::function<void(int64_t)> on_step;  // see TrainerOptions
};

// Trains `config` into the run directory and evaluates every `eval:` manifest with the best checkpoint. On a
// stop signal, saves `last` and throws Interrupted. On --resume, `config` must resolve to the run's config.yaml.
TrainSummary TrainExperiment(ExperimentConfig config, const TrainRunOptions& options);

// The config of a finished (or stopped) run: its config.yaml.
ExperimentConfig LoadRunConfig(const std::string& run_dir);

// Evaluates a run's best checkpoint (last when it has none) on a manifest; writes run_dir/eval/NAME/.
// `label_map`: a file or corpus name mapping the manifest's labels onto the model's (empty: none needed).
// `skip_bad`: bad lines and unusable audio are skipped, listed in eval/NAME/skipped.jsonl and counted, never
// scored (also on when the run was trained with data.skip_bad). Unlabelled utterances are predicted and not
// scored; with none labelled, only predictions.jsonl is written.
EvalMetrics EvaluateRun(const std::string& run_dir, const std::string& manifest, const std::string& name,
                        const std::string& label_map = "", bool skip_bad = false);

// One JSON object a file: file, label, probs {class: p}, acoustic_share / semantic_share (when the head has
// them), transcript. `texts` gives transcripts by position; a missing or empty one is transcribed with `asr`.
std::vector<nlohmann::ordered_json> PredictFiles(const std::string& run_dir, const std::vector<std::string>& files,
                                                 const std::vector<std::string>& texts, const TranscriberConfig& asr);

// Fills the feature cache for every manifest of the config (train, dev, eval); returns entries computed.
int64_t ExtractFeatures(const ExperimentConfig& config);

}  // namespace fas

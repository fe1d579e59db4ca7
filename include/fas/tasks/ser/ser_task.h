// The SER task: `fas train` through the run engine (fas/engine/run.h) with the SER model, data, feature cache and
// metrics; `fas eval` and `fas predict` on a run folder; `fas extract`. Sources: ser_task.cpp (the task the engine
// runs), ser_predict.cpp (batches and predictions over a dataset, shared by training and evaluation), ser_run.cpp
// (the commands on a finished run).
//
// Run folder: the engine's (fas/engine/run.h), and eval/NAME/{results.json,predictions.jsonl,skipped.jsonl}; a
// tokenizer trained for the run (tokenizer.model) when the config names none. The class names the run was trained
// with are in run.json (and in every checkpoint's): eval and predict use those, not the labels file as it is now.
#pragma once

#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "fas/asr/transcriber.h"
#include "fas/eval/metrics.h"
#include "fas/tasks/ser/experiment_config.h"
#include "fas/engine/run.h"
#include "fas/engine/trainer.h"

namespace fas {

// Trains `config` into the run directory and evaluates every `eval:` manifest with the best checkpoint. On a
// stop signal, saves `last` and throws Interrupted. On --resume, `config` must resolve to the run's config.yaml.
TrainSummary TrainExperiment(ExperimentConfig config, const TrainRunOptions& options);

// The SER task for the run engine (fas/tasks/registry.h builds it from a config's files).
std::unique_ptr<Task> MakeSerTask(ExperimentConfig config);

// The config of a finished (or stopped) run: its config.yaml.
ExperimentConfig LoadRunConfig(const std::string& run_dir);

// Makes `option` (a command's --device) this process's compute device, or when it is empty the device the run's
// config.yaml names (fas/core/device.h: UseDevice).
void UseRunDevice(const std::string& run_dir, const std::string& option);

// Evaluates a run's best checkpoint (last when it has none) on a manifest; writes run_dir/eval/NAME/.
// `label_map`: a file or corpus name mapping the manifest's labels onto the model's; empty: the run's own
// data.label_map (a label it neither maps nor knows is an error naming it); "none": no map.
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
// `rebuild_shard`: a shard of the config's stores to drop first (a corrupt one), so that only its entries are
// computed again.
int64_t ExtractFeatures(const ExperimentConfig& config, const std::string& rebuild_shard = "");

}  // namespace fas

// The run engine: one path for every training run, whatever its task (fas/engine/task.h).
//
// Run folder: config.yaml (fully resolved), run.json (what the run is: task, model structure, class names),
// train.log, metrics.jsonl, checkpoints/{last,best}/ (weights, optimizer.pt, trainer_state.json, config.yaml,
// run.json), and the task's own files (eval/NAME/, a tokenizer or vocabulary made for the run).
#pragma once

#include <cstdint>
#include <functional>
#include <string>

#include "fas/engine/task.h"
#include "fas/engine/trainer.h"

namespace fas {

struct TrainRunOptions {
  std::string run_dir;  // empty: runs/NAME
  bool resume = false;
  std::function<void(int64_t)> on_step;  // see TrainerOptions
};

// Trains `task` into its run folder, then loads the checkpoint chosen for evaluation (best, else last) and runs the
// task's final evaluations. Data-parallel when the environment says so (WORLD_SIZE > 1: torchrun / SLURM, or
// `fas train --nproc N`) and the task supports it. On a stop signal, saves `last` and throws Interrupted. On
// --resume, the task's config must resolve to the run's config.yaml except for the plan.
TrainSummary TrainRun(Task& task, const TrainRunOptions& options);

// Micro-batches a step for train.global_batch (examples a step over all ranks): global_batch / (batch_size x
// ranks); the config's accumulation when global_batch is 0. Throws ConfigError when it does not divide, or when
// batches are sized by seconds (batch_size 0).
int ResolveAccumulation(const TrainConfig& train, int batch_size, int ranks);

}  // namespace fas

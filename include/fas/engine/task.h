// What a kind of run supplies to the run engine (fas/engine/run.h): its config, data, model, loss and metrics.
// The engine owns everything every run shares, in the same order for every task: the run folder and its resume
// rules, logging, threads and seeds, data-parallel set-up, the global batch, the training loop (fas/engine/trainer.h:
// optimizer, schedule, checkpoints, early stopping, signals), loading the checkpoint chosen for evaluation and
// run.json. SER (fas/tasks/ser/ser_task.h) and ASR (fas/tasks/asr/asr_task.h) are the two tasks; a new one
// implements this interface and adds one line to `fas train`'s dispatch on `task:`.
#pragma once

#include <cstdint>
#include <string>
#include <utility>

#include "fas/config/binder.h"
#include "fas/engine/train_config.h"
#include "fas/engine/trainer.h"
#include "fas/eval/run_info.h"

namespace fas {

class DataParallel;

// Where a run stands, as the engine hands it to its task.
struct RunContext {
  std::string run_dir;
  bool resume = false;
  DataParallel* parallel = nullptr;  // data-parallel group; null in one process
  bool writer = true;                // the process that writes the run folder (rank 0)
};

class Task {
 public:
  virtual ~Task() = default;

  virtual std::string kind() const = 0;  // "ser", "asr": the config's `task:` and run.json's
  virtual std::string name() const = 0;  // the config's `name:`; the default run folder is runs/NAME
  virtual uint64_t seed() const = 0;
  virtual std::string device() const = 0;  // the config's `device:` (fas/core/device.h)
  virtual const TrainConfig& train_config() const = 0;
  virtual bool supports_data_parallel() const = 0;
  // Examples in one batch of one rank; 0 when batches are sized by seconds of audio.
  virtual int batch_size() const = 0;

  // The config as the run folder stores it (config.yaml: resolved, every default written out).
  virtual std::string ResolvedConfig() const = 0;
  // --resume: the given config must be the run's own (`stored_yaml`, its config.yaml) except for the plan keys
  // (TrainConfig::TakePlanFrom) and the final evaluations; takes over what the run made for itself (a vocabulary,
  // a tokenizer). Throws ConfigError naming the first line that differs.
  virtual void AdoptRun(const std::string& stored_yaml, const std::string& run_dir) = 0;
  // Loads the data; on a new run the writer makes the run's own artefacts (vocabulary, tokenizer) in the folder.
  virtual void Prepare(const RunContext& run) = 0;
  // Data-parallel ranks other than the writer take over the artefacts it made (called after a barrier).
  virtual void AdoptArtefacts(const RunContext& run) {}
  // What run.json records: the task, the model's structure, the class names.
  virtual RunInfo Describe() const = 0;
  // The model and its objective over the training set; built once, after Prepare.
  virtual TrainObjective& Objective(const RunContext& run) = 0;
  // Once before the first step of a new run, on the writer (ASR: the untrained model's dev scores).
  virtual void BeforeTraining(const RunContext& run) {}
  // The `eval:` sets, with the checkpoint chosen for evaluation already loaded into the objective's model.
  virtual void EvaluateFinal(const RunContext& run) = 0;
};

// The part of a task that its config struct answers alone: a config with name, seed, train and data.loader, bound
// with Visit (as every experiment config is).
template <class Config>
class ConfiguredTask : public Task {
 public:
  explicit ConfiguredTask(Config cfg) : cfg_(std::move(cfg)) {}

  std::string name() const override { return cfg_.name; }
  uint64_t seed() const override { return cfg_.seed; }
  std::string device() const override { return cfg_.device; }
  const TrainConfig& train_config() const override { return cfg_.train; }
  int batch_size() const override { return cfg_.data.loader.batch_size; }
  std::string ResolvedConfig() const override {
    Config printed = cfg_;  // Visit binds fields, so printing takes a mutable config
    return ConfigToString(printed);
  }

 protected:
  Config cfg_;
};

}  // namespace fas

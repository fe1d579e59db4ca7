// Training steps through the framework's own Trainer (AdamW parameter groups, schedule, clipping, non-finite
// guard, metrics log) on one batch held in memory, so that a benchmark times exactly what `fas train` does per
// step and nothing of data loading. Header only (see bench_util.h).
#pragma once

#include <torch/torch.h>

#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include <torch/csrc/autograd/profiler_legacy.h>

#include "bench_util.h"
#include "fas/io/state_dict.h"
#include "fas/engine/trainer.h"

namespace fas::bench {

// Every training batch is the same batch: `logits()` runs the model's forward on it.
class FixedBatchObjective : public TrainObjective {
 public:
  FixedBatchObjective(torch::nn::Module& model, std::vector<ParamGroup> groups, std::function<torch::Tensor()> logits,
                      torch::Tensor labels, int64_t steps)
      : model_(model), groups_(std::move(groups)), logits_(std::move(logits)), labels_(std::move(labels)),
        steps_(steps) {}

  torch::nn::Module& model() override { return model_; }
  std::vector<ParamGroup> ParameterGroups(const TrainConfig&) override { return groups_; }
  int64_t BatchesInEpoch(int64_t) override { return steps_; }
  void StartEpoch(int64_t, int64_t first) override { next_ = first; }
  std::optional<BatchLoss> NextBatch() override {
    if (next_++ >= steps_) return std::nullopt;
    RECORD_FUNCTION("fas::forward", std::vector<c10::IValue>());
    return BatchLoss{torch::nn::functional::cross_entropy(logits_(), labels_), labels_.size(0)};
  }
  std::map<std::string, double> EvaluateDev() override {
    return {{"loss", torch::nn::functional::cross_entropy(logits_(), labels_).item<double>()}};
  }
  void SaveWeights(const std::string& path) override { SaveStateDict(model_, path); }
  void LoadWeights(const std::string& path) override { LoadStateDict(model_, path, NameMap{}); }

 private:
  torch::nn::Module& model_;
  std::vector<ParamGroup> groups_;
  std::function<torch::Tensor()> logits_;
  torch::Tensor labels_;
  int64_t steps_, next_ = 0;
};

struct StepTimes {
  std::vector<double> ms;  // the timed steps (after the warm-up ones)
  double peak_rss_mib = 0; // at the end of the last step (before the trainer's final evaluation and checkpoint)
};

// Runs warmup + steps optimizer steps of `objective` with `config` (one epoch, evaluated at its end) in a
// throw-away run directory. A step's time is the interval between two consecutive step callbacks: forward,
// backward, clipping, optimizer, schedule and log line. With `profile` set, LibTorch's autograd profiler records
// every operator of the run into that file (chrome://tracing format; bench/common/profile_table.py sums it up),
// and the times include the profiler's overhead.
inline StepTimes TimeTrainerSteps(FixedBatchObjective& objective, TrainConfig config, int warmup, int steps,
                                  const std::string& profile = "") {
  namespace fs = std::filesystem;
  config.epochs = 1;
  config.eval_every = 0;
  config.best_metric = "loss";
  const fs::path dir = fs::temp_directory_path() / ("fas_bench_run_" + std::to_string(::getpid()));
  StepTimes out;
  std::vector<std::chrono::steady_clock::time_point> marks;
  TrainerOptions options;
  options.run_dir = dir.string();
  options.seed = 42;
  options.on_step = [&](int64_t step) {
    marks.push_back(std::chrono::steady_clock::now());
    if (step == warmup + steps) out.peak_rss_mib = PeakRssMib();
  };
  Trainer trainer(config, objective, options);
  {
    std::optional<torch::autograd::profiler::RecordProfile> recording;
    if (!profile.empty()) recording.emplace(profile);
    trainer.Run(/*resume=*/false);
  }
  fs::remove_all(dir);
  for (size_t i = static_cast<size_t>(warmup); i < marks.size(); ++i) {
    if (i == 0) continue;
    out.ms.push_back(std::chrono::duration<double, std::milli>(marks[i] - marks[i - 1]).count());
  }
  return out;
}

}  // namespace fas::bench

// The training loop, independent of what is trained: a TrainObjective (SER classification, CTC for task: asr)
// supplies the model, its batches and its dev evaluation; the Trainer owns the optimiser (AdamW, parameter
// groups), the schedule, accumulation, clipping, the non-finite guard, evaluation cadence, best / last
// checkpoints, early stopping, resume and clean stops on SIGINT / SIGTERM.
// Precision: every forward pass (NextBatch, EvaluateDev) runs under Autocast(ComputeDevice(), train.precision),
// the backward pass outside it; fp16 scales the loss (GradScaler, its state in the checkpoints). Running out of
// memory in a step or an evaluation ends the run with one line saying which batch and what to lower.
#pragma once

#include <torch/torch.h>

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "fas/core/device.h"
#include "fas/engine/train_config.h"

namespace fas {

// Parameters trained with one base learning rate.
struct ParamGroup {
  std::string name;  // "head", "encoder"
  std::vector<torch::Tensor> params;
  double lr = 0;
};

struct BatchLoss {
  torch::Tensor loss;    // mean over the batch's examples (a scalar that requires grad)
  int64_t examples = 0;
};

class TrainObjective {
 public:
  virtual ~TrainObjective() = default;
  virtual torch::nn::Module& model() = 0;
  // Trainable parameters by group, in a stable order (the optimiser state is saved by position).
  virtual std::vector<ParamGroup> ParameterGroups(const TrainConfig& config) = 0;

  // Training batches of an epoch in an order that depends only on (seed, epoch): starting at `first` gives
  // exactly batches first, first+1, ... of that epoch, which is what makes a resumed run the same run.
  // Batches in `epoch` (may differ between epochs, e.g. batching by seconds; epoch 0 sizes the schedule).
  virtual int64_t BatchesInEpoch(int64_t epoch) = 0;
  virtual void StartEpoch(int64_t epoch, int64_t first) = 0;
  // Forward of the next batch (model in training mode); nullopt at the end of the epoch.
  virtual std::optional<BatchLoss> NextBatch() = 0;

  // After every optimizer step (and once after a resume, with the step resumed at): schedules inside the model,
  // such as an encoder that unfreezes after N steps.
  virtual void AfterStep(int64_t step) {}

  // Dev metrics (the model is in eval mode and no gradient is recorded). Must include "loss".
  virtual std::map<std::string, double> EvaluateDev() = 0;

  // Model weights (safetensors, HuggingFace names for encoders) to and from a file.
  virtual void SaveWeights(const std::string& path) = 0;
  virtual void LoadWeights(const std::string& path) = 0;
};

class DataParallel;
class FusedAdamW;
class GradScaler;

struct TrainerOptions {
  std::string run_dir;
  uint64_t seed = 0;
  std::string resolved_config;  // config.yaml text, stored in every checkpoint
  // Files of the run folder stored in every checkpoint as they are when it is written (run.json: class names,
  // model structure), so that a checkpoint folder describes itself.
  std::vector<std::string> run_files;
  // Data-parallel group (null: one process). Every rank runs the same steps on its shard of each epoch; the
  // step's gradient is the mean over the examples of all ranks, the loss, the non-finite guard and stop requests
  // are agreed across ranks, and only rank 0 writes checkpoints and metrics.
  DataParallel* parallel = nullptr;
  // Called after every optimizer step with the step number (1-based); may call RequestStop().
  std::function<void(int64_t)> on_step;
};

struct TrainSummary {
  int64_t steps = 0;             // optimizer steps done in total (including those of a resumed-from run)
  int64_t epochs_completed = 0;
  int64_t skipped_steps = 0;     // steps skipped in this process (non-finite, or an fp16 gradient overflow)
  bool early_stopped = false;
  bool interrupted = false;      // stopped by a signal or RequestStop(); `last` was saved
  std::optional<double> best_value;
  int64_t best_step = -1;
  std::map<std::string, double> last_dev;  // the last dev evaluation
  std::vector<double> epoch_seconds;       // wall time of each full epoch trained in this process
};

class Trainer {
 public:
  Trainer(TrainConfig config, TrainObjective& objective, TrainerOptions options);
  ~Trainer();

  // Trains from scratch, or from `checkpoints/last` of the run directory when resume is true. Returns when the
  // run is complete, stopped early, or interrupted (then `last` has been written; the caller throws
  // fas::Interrupted at the command boundary). Throws Error when too many steps in a row were non-finite.
  TrainSummary Run(bool resume);

  // The numbers of the run as planned (after Run has started): optimizer steps and warmup steps.
  int64_t total_steps() const { return total_steps_; }
  int64_t steps_per_epoch() const { return steps_per_epoch_; }

  std::string CheckpointDir(const std::string& which) const;  // run_dir/checkpoints/{last,best}

 private:
  struct State;
  void BuildOptimizer();
  void SetLearningRates(double factor);
  // kOverflow: the gradients of a step under fp16 loss scaling were not finite (the scaler's matter, not
  // divergence, while the scale is above 1).
  enum class StepOutcome { kApplied, kNonFinite, kOverflow };
  StepOutcome Step(int64_t micro_batches_in_step, double& loss_out, double& grad_norm_out, int64_t& examples_out);
  // Whether to stop now: a signal or RequestStop() here, or (data-parallel) on any rank at the last step.
  bool Stopping() const;
  int rank() const;
  void Evaluate(TrainSummary& summary, bool& stop);
  void SaveCheckpoint(const std::string& dir);
  void LoadCheckpoint(const std::string& dir);
  void RepairBestCheckpoint(const std::string& last_dir);
  void LogStep(double loss, double grad_norm, int64_t examples);

  TrainConfig config_;
  TrainObjective& objective_;
  TrainerOptions options_;
  std::unique_ptr<State> state_;
  std::unique_ptr<FusedAdamW> optimizer_;
  Precision precision_ = Precision::kFloat32;
  std::unique_ptr<GradScaler> scaler_;  // fp16 only
  std::vector<double> base_lrs_;
  std::vector<torch::Tensor> params_;
  int64_t total_steps_ = 0, steps_per_epoch_ = 0, warmup_steps_ = 0;
  std::vector<std::pair<std::string, std::string>> run_file_texts_;  // options_.run_files: name, text (read once)
  bool stop_agreed_ = false;  // data-parallel: some rank asked to stop, as reduced at the last step
};

}  // namespace fas

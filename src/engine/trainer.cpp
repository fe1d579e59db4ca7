#include "fas/engine/trainer.h"

#include <c10/util/Exception.h>
#include <spdlog/spdlog.h>

#include <chrono>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "fas/core/error.h"
#include "fas/core/progress.h"
#include "fas/core/runtime.h"
#include "fas/io/json_value.h"
#include "fas/core/error_text.h"
#include "fas/engine/adamw.h"
#include "fas/engine/checkpoint_folder.h"
#include "fas/engine/determinism.h"
#include "fas/engine/distributed.h"
#include "fas/engine/early_stopping.h"
#include "fas/engine/grad_scaler.h"
#include "fas/engine/metrics_log.h"
#include "fas/engine/optimizer_state.h"
#include "fas/engine/rng_state.h"
#include "fas/engine/schedule.h"
#include "fas/engine/stop_signal.h"

namespace fs = std::filesystem;

namespace fas {
namespace {

// trainer_state.json's "format". 1: written by LibTorch 1.13 builds (no "libtorch" field; optimizer.pt names
// parameters in hexadecimal); 2: adds "libtorch" and "fas", the versions that wrote it. LoadOptimizerState reads
// both spellings of optimizer.pt, so both formats resume exactly; a newer format is refused.
constexpr int kCheckpointFormat = 2;
constexpr int kOldestCheckpointFormat = 1;
using Clock = std::chrono::steady_clock;

double Seconds(Clock::time_point since) {
  return std::chrono::duration<double>(Clock::now() - since).count();
}

// Runs `f` (a forward or backward pass, an evaluation), turning LibTorch's out-of-memory error and its refusal
// of an op without a deterministic kernel into one line that says where it happened and what to change.
template <class F>
auto Guarded(F&& f, Precision precision, const std::function<std::string()>& where) -> decltype(f()) {
  try {
    return f();
  } catch (const c10::OutOfMemoryError&) {
    throw Error(std::string(ComputeDevice().is_cuda() ? "GPU out" : "Out") + " of memory " + where() +
                ": lower data.batch_size (or data.max_batch_seconds), raising train.accumulation to keep the global "
                "batch" + (precision == Precision::kFloat32 ? ", or use train.precision: bf16" : ""));
  } catch (const c10::Error& e) {
    if (!IsDeterminismError(e.what_without_backtrace())) throw;
    throw ConfigError("train.deterministic: " + FirstLine(e.what_without_backtrace()) +
                      "; set train.deterministic: false to train this model (its results then vary in the last "
                      "bits between runs)");
  }
}

std::string ReadText(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw IoError("cannot read '" + path + "'");
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

}  // namespace

struct Trainer::State {
  int64_t step = 0;            // optimizer steps done (skipped ones included: they consumed their batches)
  int64_t epoch = 0;           // current epoch (0-based)
  int64_t batch_in_epoch = 0;  // batches of `epoch` consumed
  int nonfinite_in_row = 0;
  int64_t last_eval_step = -1;
  EarlyStopping early;
  std::unique_ptr<MetricsLog> log;
  std::unique_ptr<LrSchedule> schedule;
  // Since the last metrics line.
  double loss_sum = 0;
  int64_t loss_steps = 0, examples = 0;
  Clock::time_point log_start = Clock::now();
  Clock::time_point run_start = Clock::now();

  explicit State(const TrainConfig& c)
      : early(c.best_metric, c.early_stopping.patience, c.early_stopping.min_delta) {}
};

Trainer::Trainer(TrainConfig config, TrainObjective& objective, TrainerOptions options)
    : config_(std::move(config)), objective_(objective), options_(std::move(options)) {
  config_.Validate();
  precision_ = ParsePrecision(config_.precision, "train.precision");
}

Trainer::~Trainer() = default;

std::string Trainer::CheckpointDir(const std::string& which) const {
  return options_.run_dir + "/checkpoints/" + which;
}

void Trainer::BuildOptimizer() {
  // Biases and normalisation weights (1-D tensors) take no weight decay, as HuggingFace's Trainer does.
  std::vector<torch::optim::OptimizerParamGroup> groups;
  base_lrs_.clear();
  params_.clear();
  for (const ParamGroup& g : objective_.ParameterGroups(config_)) {
    std::vector<torch::Tensor> decay, no_decay;
    // Parameters that do not require a gradient yet (an encoder unfrozen later) are included: AdamW skips a
    // parameter until it has a gradient.
    for (const auto& p : g.params) (p.dim() >= 2 ? decay : no_decay).push_back(p);
    for (auto* part : {&decay, &no_decay}) {
      if (part->empty()) continue;
      auto opts = std::make_unique<torch::optim::AdamWOptions>(g.lr);
      opts->betas({config_.beta1, config_.beta2}).eps(config_.eps);
      opts->weight_decay(part == &decay ? config_.weight_decay : 0.0);
      groups.emplace_back(*part, std::move(opts));
      base_lrs_.push_back(g.lr);
      params_.insert(params_.end(), part->begin(), part->end());
    }
  }
  if (params_.empty()) throw ConfigError("the model has no trainable parameters (every pathway frozen and no head?)");
  optimizer_ = std::make_unique<FusedAdamW>(groups, torch::optim::AdamWOptions(config_.lr));
}

void Trainer::SetLearningRates(double factor) {
  auto& groups = optimizer_->param_groups();
  for (size_t i = 0; i < groups.size(); ++i) {
    static_cast<torch::optim::AdamWOptions&>(groups[i].options()).lr(base_lrs_[i] * factor);
  }
}

// One optimizer step over `micro` batches: the gradient is that of the mean loss over all their examples (over
// every rank's examples in data-parallel training). Says whether the step was applied or skipped (a non-finite loss
// or gradient on any rank; under fp16 a non-finite gradient is an overflow for the loss scaler).
Trainer::StepOutcome Trainer::Step(int64_t micro, double& loss_out, double& grad_norm_out, int64_t& examples_out) {
  const State& s = *state_;
  for (auto& p : params_) p.mutable_grad() = torch::Tensor();
  const double loss_scale = scaler_ ? scaler_->scale() : 1.0;
  double loss_sum = 0;
  int64_t examples = 0;
  bool finite = true;
  for (int64_t i = 0; i < micro; ++i) {
    // Dropout and other in-model randomness are a function of (seed, epoch, batch of the epoch's global plan):
    // the same batch gets the same masks whichever rank or micro-batch slot computes it, and after a resume.
    const int64_t local = s.batch_in_epoch + i;
    const int64_t global = options_.parallel ? local * options_.parallel->world_size() + rank() : local;
    torch::manual_seed(DeriveSeed(options_.seed, "batch/" + std::to_string(s.epoch) + "/" + std::to_string(global)));
    std::optional<BatchLoss> b = Guarded(
        [&] {
          const Autocast autocast(ComputeDevice(), precision_);
          return objective_.NextBatch();
        },
        precision_,
        [&] {
          return "at step " + std::to_string(s.step + 1) + " in the forward pass of batch " + std::to_string(local) +
                 " of epoch " + std::to_string(s.epoch);
        });
    if (!b) break;
    const double value = b->loss.item<double>();
    examples += b->examples;
    // Later micro-batches are still drawn so that the data position stays where an uninterrupted run has it.
    if (!std::isfinite(value)) finite = false;
    if (!finite) continue;
    loss_sum += value * static_cast<double>(b->examples);
    RECORD_FUNCTION("fas::backward", std::vector<c10::IValue>());
    Guarded([&] { (b->loss * (static_cast<double>(b->examples) * loss_scale)).backward(); }, precision_, [&] {
      return "at step " + std::to_string(s.step + 1) + " in the backward pass of a batch of " +
             std::to_string(b->examples) + " examples";
    });
  }
  if (options_.parallel != nullptr) {
    // One small all-reduce agrees on the step: total loss and examples, whether any rank saw a non-finite value,
    // and whether any rank was asked to stop (so that all stop after the same step).
    torch::Tensor agreed = torch::tensor(
        {finite ? loss_sum : 0.0, static_cast<double>(examples), finite ? 0.0 : 1.0, StopRequested() ? 1.0 : 0.0},
        torch::kFloat64);
    options_.parallel->AllReduceSum(agreed);
    loss_sum = agreed[0].item<double>();
    examples = static_cast<int64_t>(agreed[1].item<double>());
    finite = agreed[2].item<double>() == 0.0;
    stop_agreed_ = agreed[3].item<double>() > 0.0;
  }
  examples_out = examples;
  loss_out = examples > 0 ? loss_sum / static_cast<double>(examples) : 0.0;
  grad_norm_out = std::nan("");
  if (!finite || examples == 0) {
    loss_out = std::nan("");
    return StepOutcome::kNonFinite;
  }
  if (options_.parallel != nullptr) options_.parallel->SumGradients(params_);
  std::vector<torch::Tensor> grads;
  for (auto& p : params_) {
    if (p.grad().defined()) grads.push_back(p.grad());
  }
  // The gradients hold sums over the step's examples times the loss scale; the mean, the unscaling and the
  // clipping factor are one scale that the optimiser applies as it reads them, instead of passes rescaling every
  // gradient tensor in place. The norm is the unscaled gradient's, so clipping sees what it would in float32.
  const double unscale = 1.0 / static_cast<double>(examples) / loss_scale;
  const double norm = [&] {
    RECORD_FUNCTION("fas::grad_norm", std::vector<c10::IValue>());  // a span for bench --profile
    return std::sqrt(SquaredNorm(grads)) * unscale;
  }();
  grad_norm_out = norm;
  if (!std::isfinite(norm)) return scaler_ ? StepOutcome::kOverflow : StepOutcome::kNonFinite;
  double scale = unscale;
  if (config_.grad_clip > 0 && norm > config_.grad_clip) {
    scale *= config_.grad_clip / (norm + 1e-6);  // as torch.nn.utils.clip_grad_norm_
  }
  SetLearningRates(state_->schedule->Factor(state_->step));
  RECORD_FUNCTION("fas::optimizer_step", std::vector<c10::IValue>());
  optimizer_->set_grad_scale(scale);
  optimizer_->step();
  return StepOutcome::kApplied;
}

bool Trainer::Stopping() const { return options_.parallel != nullptr ? stop_agreed_ : StopRequested(); }

int Trainer::rank() const { return options_.parallel != nullptr ? options_.parallel->rank() : 0; }

void Trainer::LogStep(double loss, double grad_norm, int64_t examples) {
  State& s = *state_;
  if (std::isfinite(loss)) {
    s.loss_sum += loss;
    ++s.loss_steps;
  }
  s.examples += examples;
  if (s.step % config_.log_every != 0 && s.step != total_steps_) return;
  const double seconds = Seconds(s.log_start);
  nlohmann::json j;
  j["step"] = s.step;
  j["epoch"] = s.epoch;
  j["loss"] = s.loss_steps > 0 ? s.loss_sum / static_cast<double>(s.loss_steps) : std::nan("");
  j["lr"] = base_lrs_.empty() ? 0.0 : config_.lr * s.schedule->Factor(s.step - 1);
  j["grad_norm"] = grad_norm;
  j["examples_per_s"] = seconds > 0 ? static_cast<double>(s.examples) / seconds : 0.0;
  j["elapsed_s"] = Seconds(s.run_start);
  j["seed"] = options_.seed;
  if (scaler_) j["loss_scale"] = scaler_->scale();
  if (s.log) s.log->Write(j);
  spdlog::debug("step {} loss {:.4f} grad_norm {:.3f}", s.step, j["loss"].get<double>(), grad_norm);
  s.loss_sum = 0;
  s.loss_steps = 0;
  s.examples = 0;
  s.log_start = Clock::now();
}

void Trainer::Evaluate(TrainSummary& summary, bool& stop) {
  State& s = *state_;
  torch::nn::Module& model = objective_.model();
  model.eval();
  std::map<std::string, double> metrics;
  {
    torch::NoGradGuard no_grad;
    metrics = Guarded(
        [&] {
          const Autocast autocast(ComputeDevice(), precision_);
          return objective_.EvaluateDev();
        },
        precision_, [&] { return "in the dev evaluation at step " + std::to_string(s.step); });
  }
  model.train();
  s.last_eval_step = s.step;
  summary.last_dev = metrics;
  auto it = metrics.find(config_.best_metric);
  if (it == metrics.end()) {
    std::string known;
    for (const auto& [k, v] : metrics) known += (known.empty() ? "" : ", ") + k;
    throw ConfigError("train.best_metric '" + config_.best_metric + "' is not a dev metric; known: " + known);
  }
  const bool best = s.early.Update(it->second, s.step);
  nlohmann::json j;
  j["event"] = "eval";
  j["split"] = "dev";
  j["step"] = s.step;
  j["epoch"] = s.epoch;
  for (const auto& [k, v] : metrics) j[k] = v;
  j["best"] = best;
  j["seed"] = options_.seed;
  if (s.log) s.log->Write(j);
  spdlog::info("step {}: dev {} {:.4f}{} (loss {:.4f})", s.step, config_.best_metric, it->second,
               best ? " (best)" : "", metrics.count("loss") ? metrics.at("loss") : std::nan(""));
  SaveCheckpoint(CheckpointDir("last"));
  if (best && rank() == 0) CopyCheckpoint(CheckpointDir("last"), CheckpointDir("best"));
  if (s.early.ShouldStop()) {
    spdlog::info("early stopping: no improvement of dev {} by more than {} in {} evaluations (best {:.4f} at step {})",
                 config_.best_metric, config_.early_stopping.min_delta, config_.early_stopping.patience,
                 s.early.best(), s.early.best_step());
    summary.early_stopped = true;
    stop = true;
  }
}

void Trainer::SaveCheckpoint(const std::string& dir) {
  if (rank() != 0) return;
  const State& s = *state_;
  CheckpointTransaction t(dir);
  objective_.SaveWeights(t.Path("model.safetensors"));
  SaveOptimizerState(*optimizer_, t.Path("optimizer.pt"));
  nlohmann::json j;
  j["format"] = kCheckpointFormat;
  j["libtorch"] = TORCH_VERSION;
  j["fas"] = FAS_VERSION;
  j["seed"] = options_.seed;
  j["step"] = s.step;
  j["epoch"] = s.epoch;
  j["batch_in_epoch"] = s.batch_in_epoch;
  j["nonfinite_in_row"] = s.nonfinite_in_row;
  j["last_eval_step"] = s.last_eval_step;
  j["schedule"] = {{"kind", s.schedule->kind()},
                   {"warmup_steps", s.schedule->warmup_steps()},
                   {"total_steps", s.schedule->total_steps()},
                   {"accumulation", config_.accumulation}};
  j["early_stopping"] = {{"metric", s.early.metric()},
                         {"best", s.early.has_best() ? nlohmann::json(s.early.best()) : nlohmann::json()},
                         {"best_step", s.early.best_step()},
                         {"bad_evals", s.early.bad_evals()}};
  if (scaler_) j["grad_scaler"] = {{"scale", scaler_->scale()}, {"growth_tracker", scaler_->growth_tracker()}};
  j["rng"] = RngState{CaptureTorchRng(), {}, CaptureCudaRng()}.ToJson();
  t.WriteFile("trainer_state.json", j.dump(2) + "\n");
  t.WriteFile("config.yaml", options_.resolved_config);
  for (const auto& [name, text] : run_file_texts_) t.WriteFile(name, text);
  t.Commit();
}

void Trainer::LoadCheckpoint(const std::string& dir) {
  State& s = *state_;
  const std::string state_file = dir + "/trainer_state.json";
  const std::string field = state_file + ": ";  // JsonAs names the field: a hostile value is an error, never UB
  nlohmann::json j;
  try {
    j = nlohmann::json::parse(ReadText(state_file));
    const int format = JsonAs<int>(j.at("format"), field + "format");
    const std::string writer =
        "LibTorch " + (j.contains("libtorch") ? JsonAs<std::string>(j.at("libtorch"), field + "libtorch") : "1.13");
    if (format < kOldestCheckpointFormat || format > kCheckpointFormat) {
      throw IoError("checkpoint '" + dir + "' has format " + std::to_string(format) + " (written with " + writer +
                    "); this fas reads formats " + std::to_string(kOldestCheckpointFormat) + " to " +
                    std::to_string(kCheckpointFormat) + ": resume it with the fas that wrote it, or start anew");
    }
    if (format != kCheckpointFormat || writer != "LibTorch " TORCH_VERSION) {
      spdlog::info("resuming '{}', format {} written with {} (this fas: format {}, LibTorch {})", dir, format, writer,
                   kCheckpointFormat, TORCH_VERSION);
    }
    if (JsonAs<uint64_t>(j.at("seed"), field + "seed") != options_.seed) {
      throw ConfigError("checkpoint '" + dir + "' was trained with seed " + j.at("seed").dump() +
                        ", the config says " + std::to_string(options_.seed) + "; resume needs the same seed");
    }
    const int64_t planned = JsonAs<int64_t>(j.at("schedule").at("total_steps"), field + "schedule.total_steps");
    if (planned != total_steps_ ||
        JsonAs<int>(j.at("schedule").at("accumulation"), field + "schedule.accumulation") != config_.accumulation) {
      spdlog::warn("resuming '{}' with a different plan ({} steps, accumulation {} before; {} and {} now): the "
                   "schedule changes, so the result will differ from an uninterrupted run",
                   dir, planned, j["schedule"]["accumulation"].dump(), total_steps_, config_.accumulation);
    }
    s.step = JsonAs<int64_t>(j.at("step"), field + "step");
    s.epoch = JsonAs<int64_t>(j.at("epoch"), field + "epoch");
    s.batch_in_epoch = JsonAs<int64_t>(j.at("batch_in_epoch"), field + "batch_in_epoch");
    s.nonfinite_in_row = JsonAs<int>(j.at("nonfinite_in_row"), field + "nonfinite_in_row");
    s.last_eval_step = JsonAs<int64_t>(j.at("last_eval_step"), field + "last_eval_step");
    const auto& es = j.at("early_stopping");
    s.early.Restore(es.at("best").is_null() ? 0.0 : JsonAs<double>(es.at("best"), field + "early_stopping.best"),
                    JsonAs<int64_t>(es.at("best_step"), field + "early_stopping.best_step"),
                    JsonAs<int>(es.at("bad_evals"), field + "early_stopping.bad_evals"));
    if (scaler_) {
      const auto& gs = j.at("grad_scaler");
      scaler_->Restore(JsonAs<double>(gs.at("scale"), field + "grad_scaler.scale"),
                       JsonAs<int64_t>(gs.at("growth_tracker"), field + "grad_scaler.growth_tracker"));
    }
  } catch (const nlohmann::json::exception& e) {
    throw IoError("checkpoint '" + state_file + "' is malformed: " + e.what());
  }
  objective_.LoadWeights(dir + "/model.safetensors");
  LoadOptimizerState(*optimizer_, dir + "/optimizer.pt");
  const RngState rng = RngState::FromJson(j.at("rng"));
  RestoreTorchRng(rng.torch_cpu);
  RestoreCudaRng(rng.torch_cuda);
}

// A run killed after committing a new best `last` but before copying it to `best` resumes from a `last` that
// records itself as the best while `best` is older or missing; later evaluations do not beat it, so without this
// copy the run would end without its best checkpoint.
void Trainer::RepairBestCheckpoint(const std::string& last_dir) {
  const State& s = *state_;
  if (rank() != 0 || !s.early.has_best() || s.early.best_step() != s.step) return;
  const std::string best = FindCheckpoint(CheckpointDir("best"));
  int64_t best_step = -1;
  if (!best.empty()) {
    try {
      best_step = JsonAs<int64_t>(nlohmann::json::parse(ReadText(best + "/trainer_state.json")).at("step"), "step");
    } catch (const std::exception&) {
      best_step = -1;  // unreadable: replaced below
    }
  }
  if (best_step == s.step) return;
  spdlog::warn("checkpoints/best is behind '{}' (the best so far, step {}): the previous run stopped while copying "
               "it; copying it now", last_dir, s.step);
  CopyCheckpoint(last_dir, CheckpointDir("best"));
}

TrainSummary Trainer::Run(bool resume) {
  TrainSummary summary;
  const int64_t batches0 = objective_.BatchesInEpoch(0);
  if (batches0 <= 0) throw DataError("the training set gives no batches (empty manifest?)");
  steps_per_epoch_ = (batches0 + config_.accumulation - 1) / config_.accumulation;
  total_steps_ = steps_per_epoch_ * config_.epochs;
  if (config_.max_steps > 0) total_steps_ = std::min(total_steps_, config_.max_steps);
  warmup_steps_ = ResolveWarmupSteps(config_.warmup, total_steps_);

  state_ = std::make_unique<State>(config_);
  State& s = *state_;
  s.schedule = std::make_unique<LrSchedule>(config_.schedule, warmup_steps_, total_steps_);
  BuildOptimizer();
  scaler_ = precision_ == Precision::kFloat16 ? std::make_unique<GradScaler>() : nullptr;
  objective_.model().train();

  const std::string metrics_path = options_.run_dir + "/metrics.jsonl";
  if (resume) {
    const std::string dir = FindCheckpoint(CheckpointDir("last"));
    if (dir.empty()) {
      throw IoError("nothing to resume in '" + options_.run_dir + "': no checkpoints/last (start without --resume)");
    }
    LoadCheckpoint(dir);
    RepairBestCheckpoint(dir);
    objective_.AfterStep(s.step);
    if (rank() == 0) MetricsLog::TruncateAfterStep(metrics_path, s.step);
    spdlog::info("resumed '{}' at step {} (epoch {}, batch {})", dir, s.step, s.epoch, s.batch_in_epoch);
  }
  if (options_.parallel != nullptr) {
    // Every rank starts from rank 0's weights, whatever each built or loaded.
    std::vector<torch::Tensor> state;
    for (const auto& p : objective_.model().parameters()) state.push_back(p);
    for (const auto& b : objective_.model().buffers()) state.push_back(b);
    options_.parallel->Broadcast(state);
  }
  if (rank() == 0) {
    fs::create_directories(options_.run_dir);
    s.log = std::make_unique<MetricsLog>(metrics_path);
    for (const auto& f : options_.run_files) run_file_texts_.emplace_back(fs::path(f).filename().string(), ReadText(f));
  }
  spdlog::info("training: {} batches an epoch, accumulation {}, {} steps an epoch, {} steps ({} warmup, {})", batches0,
               config_.accumulation, steps_per_epoch_, total_steps_, warmup_steps_, config_.schedule);

  StopSignalScope signals;
  Progress progress("train", total_steps_, "step");
  if (s.step > 0) progress.Advance(s.step);
  s.run_start = s.log_start = Clock::now();
  bool stop = false;
  // A run stopped on an epoch's last step (eval_every 0) saved `last` before that epoch's evaluation: make it now,
  // so that the best checkpoint and early stopping see what the uninterrupted run saw.
  if (resume && config_.eval_every == 0 && s.epoch > 0 && s.batch_in_epoch == 0 && s.last_eval_step != s.step) {
    Evaluate(summary, stop);
  }
  while (s.step < total_steps_ && !stop) {
    objective_.StartEpoch(s.epoch, s.batch_in_epoch);
    const int64_t batches = objective_.BatchesInEpoch(s.epoch);
    const bool full_epoch = s.batch_in_epoch == 0;
    const auto epoch_start = Clock::now();
    while (s.batch_in_epoch < batches && s.step < total_steps_ && !stop) {
      const int64_t micro = std::min<int64_t>(config_.accumulation, batches - s.batch_in_epoch);
      double loss = 0, grad_norm = 0;
      int64_t examples = 0;
      const double loss_scale = scaler_ ? scaler_->scale() : 1.0;
      const StepOutcome outcome = Step(micro, loss, grad_norm, examples);
      if (scaler_ && outcome != StepOutcome::kNonFinite) scaler_->Update(outcome == StepOutcome::kApplied);
      s.batch_in_epoch += micro;
      ++s.step;
      objective_.AfterStep(s.step);
      if (outcome == StepOutcome::kApplied) {
        s.nonfinite_in_row = 0;
      } else if (outcome == StepOutcome::kOverflow && loss_scale > 1) {
        // The loss scale was too high for these gradients, which is how dynamic loss scaling finds its scale;
        // not a sign of divergence (an overflow at scale 1 or below is, and counts as one below).
        ++summary.skipped_steps;
        spdlog::debug("step {}: fp16 gradients overflowed at loss scale {}; step skipped, scale now {}", s.step,
                      loss_scale, scaler_->scale());
      } else {
        ++summary.skipped_steps;
        ++s.nonfinite_in_row;
        spdlog::warn("step {}: non-finite {}; step skipped ({} in a row, at most {})", s.step,
                     std::isfinite(loss) ? "gradient norm" : "loss", s.nonfinite_in_row, config_.max_nonfinite_steps);
        if (s.nonfinite_in_row >= config_.max_nonfinite_steps) {
          throw Error("training diverged: " + std::to_string(s.nonfinite_in_row) +
                      " optimizer steps in a row had a non-finite loss or gradient (last at step " +
                      std::to_string(s.step) + ", epoch " + std::to_string(s.epoch) +
                      "); lower train.lr, set train.grad_clip, or check the data for broken audio");
        }
      }
      LogStep(loss, grad_norm, examples);
      progress.Advance(1, std::isfinite(loss) ? "loss " + std::to_string(loss).substr(0, 6) : "skipped");
      if (config_.eval_every > 0 && s.step % config_.eval_every == 0) Evaluate(summary, stop);
      if (options_.on_step) options_.on_step(s.step);
      if (Stopping()) break;
    }
    if (s.batch_in_epoch >= batches) {
      if (full_epoch) summary.epoch_seconds.push_back(Seconds(epoch_start));
      if (s.log) {
        s.log->Write({{"event", "epoch"}, {"epoch", s.epoch}, {"step", s.step}, {"seconds", Seconds(epoch_start)},
                      {"full", full_epoch}, {"seed", options_.seed}});
      }
      ++s.epoch;
      s.batch_in_epoch = 0;
      ++summary.epochs_completed;
      if (config_.eval_every == 0 && !stop && !Stopping()) Evaluate(summary, stop);
    }
    if (Stopping()) {
      SaveCheckpoint(CheckpointDir("last"));
      summary.interrupted = true;
      spdlog::warn("stopped at step {} ({}); checkpoints/last saved; continue with --resume", s.step,
                   StopSignalNumber() != 0 ? "signal " + std::to_string(StopSignalNumber()) : "stop requested");
      break;
    }
  }
  progress.Finish();
  if (!summary.interrupted) {
    if (s.last_eval_step != s.step) Evaluate(summary, stop);  // saves `last` too
  }
  summary.steps = s.step;
  if (s.early.has_best()) {
    summary.best_value = s.early.best();
    summary.best_step = s.early.best_step();
  }
  return summary;
}

void TrainConfig::TakePlanFrom(const TrainConfig& given) {
  max_steps = given.max_steps;
  epochs = given.epochs;
  eval_every = given.eval_every;
  log_every = given.log_every;
  threads = given.threads;
  distributed_timeout = given.distributed_timeout;
  early_stopping = given.early_stopping;
}

std::optional<std::pair<std::string, std::string>> FirstDifferentLine(const std::string& a, const std::string& b) {
  std::istringstream in_a(a), in_b(b);
  std::string la, lb;
  while (true) {
    const bool ga = static_cast<bool>(std::getline(in_a, la)), gb = static_cast<bool>(std::getline(in_b, lb));
    if (!ga && !gb) return std::nullopt;
    if (la != lb || ga != gb) return std::make_pair(ga ? la : "", gb ? lb : "");
  }
}

void CheckSameRunConfig(const std::string& given, const std::string& stored, const std::string& run_dir) {
  if (const auto diff = FirstDifferentLine(given, stored)) {
    throw ConfigError("--resume: the config differs from " + run_dir + "/config.yaml (given '" + diff->first +
                      "', the run has '" + diff->second + "'); a resumed run continues the same run, so only "
                      "max_steps, epochs, eval_every, log_every, threads, distributed_timeout, early_stopping and "
                      "eval may change");
  }
}

void TrainConfig::Validate() const {
  auto fail = [](const std::string& key, const std::string& why) { throw ConfigError("train." + key + " " + why); };
  if (optimizer != "adamw") fail("optimizer", "'" + optimizer + "' is unknown; use adamw");
  if (!(lr > 0)) fail("lr", "must be > 0");
  if (!(encoder_lr >= 0)) fail("encoder_lr", "must be >= 0");
  if (!(weight_decay >= 0)) fail("weight_decay", "must be >= 0");
  if (!(beta1 >= 0 && beta1 < 1)) fail("beta1", "must be in [0, 1)");
  if (!(beta2 >= 0 && beta2 < 1)) fail("beta2", "must be in [0, 1)");
  if (!(eps > 0)) fail("eps", "must be > 0");
  LrSchedule(schedule, 0, 1);  // throws on an unknown kind
  if (!(warmup >= 0)) fail("warmup", "must be >= 0");
  if (!(grad_clip >= 0)) fail("grad_clip", "must be >= 0 (0 = off)");
  if (accumulation < 1) fail("accumulation", "must be >= 1");
  if (global_batch < 0) fail("global_batch", "must be >= 0 (0 = off)");
  if (max_steps < 0) fail("max_steps", "must be >= 0");
  if (epochs < 1) fail("epochs", "must be >= 1");
  if (!(label_smoothing >= 0 && label_smoothing < 1)) fail("label_smoothing", "must be in [0, 1)");
  const ModalityDropoutConfig& md = modality_dropout;
  if (!(md.acoustic >= 0 && md.semantic >= 0 && md.acoustic + md.semantic <= 1)) {
    fail("modality_dropout", "probabilities must be >= 0 and sum to at most 1 (one pathway is dropped at a time)");
  }
  if (!(counterfactual.prob >= 0 && counterfactual.prob <= 1)) fail("counterfactual.prob", "must be in [0, 1]");
  if (eval_every < 0) fail("eval_every", "must be >= 0 (0 = each epoch)");
  if (log_every < 1) fail("log_every", "must be >= 1");
  if (best_metric.empty()) fail("best_metric", "must name a dev metric (ua, acc, macro_f1, loss, ...)");
  if (max_nonfinite_steps < 1) fail("max_nonfinite_steps", "must be >= 1");
  if (threads < 0) fail("threads", "must be >= 0");
  if (!(distributed_timeout > 0)) fail("distributed_timeout", "must be > 0 seconds");
  ParsePrecision(precision, "train.precision");
  EarlyStopping(best_metric, early_stopping.patience, early_stopping.min_delta);  // validates both
}

}  // namespace fas

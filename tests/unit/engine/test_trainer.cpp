// The training loop on a tiny real model (an MLP with dropout, so the RNG matters) over generated data.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <numeric>
#include <random>

#include "fas/core/error.h"
#include "fas/core/runtime.h"
#include "fas/engine/stop_signal.h"
#include "fas/engine/trainer.h"
#include "tiny_objective.h"
#include "support/test_support.h"

namespace fs = std::filesystem;
using fas::testing::ReadFile;
using fas::testing::TempDir;
using fas::testing::TinyConfig;
using fas::testing::TinyObjective;

namespace {

fas::TrainerOptions Options(const std::string& dir) {
  fas::TrainerOptions o;
  o.run_dir = dir;
  o.seed = 7;
  o.resolved_config = "seed: 7\n";
  return o;
}

class TrainerTest : public ::testing::Test {
 protected:
  void SetUp() override { torch::set_num_threads(1); }
};

TEST_F(TrainerTest, TrainsWritesRunFilesAndLowersDevLoss) {
  TempDir d;
  TinyObjective obj(7, 4);
  const double before = obj.EvaluateDev().at("loss");
  fas::Trainer trainer(TinyConfig(), obj, Options(d.path()));
  const fas::TrainSummary s = trainer.Run(false);
  EXPECT_EQ(trainer.steps_per_epoch(), 6);  // 12 batches, accumulation 2
  EXPECT_EQ(s.steps, 24);
  EXPECT_EQ(s.epochs_completed, 4);
  EXPECT_EQ(obj.batches_seen, 48);
  EXPECT_LT(s.last_dev.at("loss"), before);
  for (const char* f : {"model.safetensors", "optimizer.pt", "trainer_state.json", "config.yaml"}) {
    EXPECT_TRUE(fs::exists(d / "checkpoints/last/" + f)) << f;
    EXPECT_TRUE(fs::exists(d / "checkpoints/best/" + f)) << f;
  }
  const auto state = nlohmann::json::parse(ReadFile(d / "checkpoints/last/trainer_state.json"));
  EXPECT_EQ(state["step"], 24);
  EXPECT_EQ(state["seed"], 7);
  std::ifstream in(d / "metrics.jsonl");
  int steps = 0, evals = 0;
  for (std::string line; std::getline(in, line);) {
    const auto j = nlohmann::json::parse(line);
    if (j.value("event", "") == "eval") ++evals;
    else if (!j.contains("event")) ++steps;
  }
  EXPECT_EQ(steps, 24);
  EXPECT_EQ(evals, 5);  // steps 5, 10, 15, 20 and the final one at 24
}

// Stopped after step k (as SIGINT would) and resumed: the same weights, bit for bit, as an uninterrupted run.
TEST_F(TrainerTest, ResumedRunEndsWithTheSameWeightsBitwise) {
  TempDir full_dir, split_dir;
  TinyObjective full(7, 4);
  fas::Trainer(TinyConfig(), full, Options(full_dir.path())).Run(false);

  for (int64_t stop_at : {7, 12}) {  // mid-epoch (odd batch of accumulation) and at an epoch boundary
    TempDir dir;
    {
      TinyObjective first(7, 4);
      fas::TrainerOptions o = Options(dir.path());
      o.on_step = [stop_at](int64_t step) {
        if (step == stop_at) fas::RequestStop();
      };
      const fas::TrainSummary s = fas::Trainer(TinyConfig(), first, o).Run(false);
      EXPECT_TRUE(s.interrupted);
      EXPECT_EQ(s.steps, stop_at);
    }
    torch::manual_seed(999);  // a fresh process would start from another RNG state
    TinyObjective second(7, 4);
    const fas::TrainSummary s = fas::Trainer(TinyConfig(), second, Options(dir.path())).Run(true);
    EXPECT_FALSE(s.interrupted);
    EXPECT_EQ(s.steps, 24);
    EXPECT_TRUE(torch::equal(second.Flat(), full.Flat())) << "stopped at " << stop_at;
    EXPECT_EQ(ReadFile(dir / "checkpoints/best/trainer_state.json"),
              ReadFile(full_dir / "checkpoints/best/trainer_state.json"));
  }
}

// eval_every 0 evaluates at each epoch's end; a run stopped on an epoch's last step evaluates that epoch when it
// resumes, so its evaluations, its best checkpoint and its weights are the uninterrupted run's.
TEST_F(TrainerTest, RunStoppedAtAnEpochsEndEvaluatesThatEpochOnResume) {
  fas::TrainConfig c = TinyConfig();
  c.eval_every = 0;
  auto evals = [](const fs::path& dir) {
    std::vector<int64_t> steps;
    std::ifstream in(dir / "metrics.jsonl");
    for (std::string line; std::getline(in, line);) {
      const auto j = nlohmann::json::parse(line);
      if (j.value("event", "") == "eval") steps.push_back(j.at("step").get<int64_t>());
    }
    return steps;
  };
  TempDir full_dir, dir;
  TinyObjective full(7, 4);
  fas::Trainer(c, full, Options(full_dir.path())).Run(false);
  {
    TinyObjective first(7, 4);
    fas::TrainerOptions o = Options(dir.path());
    o.on_step = [](int64_t step) {
      if (step == 6) fas::RequestStop();  // the last step of epoch 0 (12 batches, accumulation 2)
    };
    EXPECT_TRUE(fas::Trainer(c, first, o).Run(false).interrupted);
  }
  TinyObjective second(7, 4);
  fas::Trainer(c, second, Options(dir.path())).Run(true);
  EXPECT_EQ(evals(dir.path()), (std::vector<int64_t>{6, 12, 18, 24}));
  EXPECT_EQ(evals(dir.path()), evals(full_dir.path()));
  EXPECT_TRUE(torch::equal(second.Flat(), full.Flat()));
  EXPECT_EQ(ReadFile(dir / "checkpoints/best/trainer_state.json"),
            ReadFile(full_dir / "checkpoints/best/trainer_state.json"));
}

// Killed after `last` was committed as a new best but before its copy to `best` was (here at the first evaluation,
// so there is no `best` yet; later ones do not improve): the resumed run makes the copy and ends with the
// uninterrupted run's `best`.
TEST_F(TrainerTest, ResumeRestoresABestCopyThatWasCutShort) {
  fas::TrainConfig c = TinyConfig();
  c.lr = 1e-12;  // nothing improves after the first evaluation
  c.encoder_lr = 1e-12;
  c.eval_every = 2;
  c.max_steps = 8;
  c.best_metric = "loss";
  c.early_stopping.min_delta = 1e-3;
  TempDir full_dir, dir;
  {
    TinyObjective full(7, 4);
    EXPECT_EQ(fas::Trainer(c, full, Options(full_dir.path())).Run(false).best_step, 2);
  }
  {
    TinyObjective first(7, 4);
    fas::TrainerOptions o = Options(dir.path());
    o.on_step = [](int64_t step) {
      if (step == 2) fas::RequestStop();
    };
    EXPECT_TRUE(fas::Trainer(c, first, o).Run(false).interrupted);
  }
  fs::remove_all(dir / "checkpoints/best");
  TinyObjective second(7, 4);
  EXPECT_EQ(fas::Trainer(c, second, Options(dir.path())).Run(true).steps, 8);
  ASSERT_TRUE(fs::exists(dir / "checkpoints/best/trainer_state.json"));
  EXPECT_EQ(ReadFile(dir / "checkpoints/best/trainer_state.json"),
            ReadFile(full_dir / "checkpoints/best/trainer_state.json"));
}

TEST_F(TrainerTest, ResumeWithoutCheckpointIsAClearError) {
  TempDir d;
  TinyObjective obj(7, 4);
  try {
    fas::Trainer(TinyConfig(), obj, Options(d.path())).Run(true);
    FAIL() << "expected an error";
  } catch (const fas::IoError& e) {
    EXPECT_NE(std::string(e.what()).find("nothing to resume"), std::string::npos);
  }
}

// Accumulating 2 batches of 4 is one step on the mean gradient of those 8 examples.
TEST_F(TrainerTest, AccumulationEqualsTheLargerBatch) {
  fas::TrainConfig c = TinyConfig();
  c.max_steps = 1;
  c.warmup = 0;
  c.eval_every = 0;
  TempDir a, b;
  TinyObjective small(7, 4), large(7, 8);
  small.model().eval();  // dropout off in both so the forward passes are identical
  c.accumulation = 2;
  fas::TrainerOptions oa = Options(a.path());
  fas::Trainer ta(c, small, oa);
  // The trainer puts the model in training mode; a dropout of 0 keeps the comparison exact.
  for (auto* m : {&small, &large}) {
    for (auto& mod : m->model().modules()) {
      if (auto* dr = mod->as<torch::nn::DropoutImpl>()) dr->options.p(0.0);
    }
  }
  ta.Run(false);
  c.accumulation = 1;
  fas::Trainer(c, large, Options(b.path())).Run(false);
  EXPECT_TRUE(torch::allclose(small.Flat(), large.Flat(), 1e-6, 1e-7));
}

TEST_F(TrainerTest, NonFiniteStepsAreSkippedThenFailClearly) {
  fas::TrainConfig c = TinyConfig();
  c.accumulation = 1;
  c.max_nonfinite_steps = 3;
  {
    TempDir d;
    TinyObjective obj(7, 4, {2, 3});  // two bad batches an epoch: skipped, training goes on
    const fas::TrainSummary s = fas::Trainer(c, obj, Options(d.path())).Run(false);
    EXPECT_EQ(s.skipped_steps, 8);
    EXPECT_TRUE(torch::isfinite(obj.Flat()).all().item<bool>());
  }
  {
    TempDir d;
    TinyObjective obj(7, 4, {2, 3, 4});  // three in a row: a clear error
    try {
      fas::Trainer(c, obj, Options(d.path())).Run(false);
      FAIL() << "expected an error";
    } catch (const fas::Error& e) {
      EXPECT_NE(std::string(e.what()).find("3 optimizer steps in a row"), std::string::npos) << e.what();
      EXPECT_NE(std::string(e.what()).find("step 5"), std::string::npos) << e.what();
    }
  }
}

TEST_F(TrainerTest, EarlyStoppingEndsTheRunAfterPatience) {
  fas::TrainConfig c = TinyConfig();
  c.lr = 1e-12;  // nothing improves
  c.encoder_lr = 1e-12;
  c.epochs = 50;
  c.eval_every = 2;
  c.best_metric = "loss";
  c.early_stopping.patience = 3;
  c.early_stopping.min_delta = 1e-3;
  TempDir d;
  TinyObjective obj(7, 4);
  const fas::TrainSummary s = fas::Trainer(c, obj, Options(d.path())).Run(false);
  EXPECT_TRUE(s.early_stopped);
  EXPECT_EQ(obj.evaluations, 4);  // the first sets the best, three more without improvement
  EXPECT_EQ(s.steps, 8);
  EXPECT_EQ(s.best_step, 2);
}

TEST_F(TrainerTest, UnknownBestMetricNamesTheKnownOnes) {
  fas::TrainConfig c = TinyConfig();
  c.best_metric = "f2";
  TempDir d;
  TinyObjective obj(7, 4);
  try {
    fas::Trainer(c, obj, Options(d.path())).Run(false);
    FAIL();
  } catch (const fas::ConfigError& e) {
    EXPECT_NE(std::string(e.what()).find("known: acc, loss"), std::string::npos) << e.what();
  }
}

// Under bf16 and fp16 (autocast on the CPU here) the run trains, and a stopped and resumed run still ends with
// the uninterrupted run's weights bit for bit: fp16's loss scale travels in the checkpoint.
TEST_F(TrainerTest, MixedPrecisionRunsResumeBitwise) {
  for (const char* precision : {"bf16", "fp16"}) {
    fas::TrainConfig c = TinyConfig();
    c.precision = precision;
    TempDir full_dir, dir;
    TinyObjective full(7, 4);
    const double before = full.EvaluateDev().at("loss");
    const fas::TrainSummary done = fas::Trainer(c, full, Options(full_dir.path())).Run(false);
    EXPECT_LT(done.last_dev.at("loss"), before) << precision;
    {
      TinyObjective first(7, 4);
      fas::TrainerOptions o = Options(dir.path());
      o.on_step = [](int64_t step) {
        if (step == 7) fas::RequestStop();
      };
      EXPECT_TRUE(fas::Trainer(c, first, o).Run(false).interrupted);
    }
    const auto state = nlohmann::json::parse(ReadFile(dir / "checkpoints/last/trainer_state.json"));
    EXPECT_EQ(state.contains("grad_scaler"), std::string(precision) == "fp16") << precision;
    torch::manual_seed(999);
    TinyObjective second(7, 4);
    fas::Trainer(c, second, Options(dir.path())).Run(true);
    EXPECT_TRUE(torch::equal(second.Flat(), full.Flat())) << precision;
  }
}

// A single weight whose gradient, times fp16's initial loss scale, overflows float32: the scaler halves the scale
// step by step until it fits, and those skipped steps are not divergence (max_nonfinite_steps 2 < 5).
class HugeGradientObjective : public fas::TrainObjective {
 public:
  HugeGradientObjective() { model_.w = model_.register_parameter("w", torch::ones({1})); }
  torch::nn::Module& model() override { return model_; }
  std::vector<fas::ParamGroup> ParameterGroups(const fas::TrainConfig& c) override {
    return {{"head", {model_.w}, c.lr}};
  }
  int64_t BatchesInEpoch(int64_t) override { return 10; }
  void StartEpoch(int64_t, int64_t first) override { next_ = first; }
  std::optional<fas::BatchLoss> NextBatch() override {
    if (next_++ >= 10) return std::nullopt;
    return fas::BatchLoss{model_.w.sum() * 1e35, 1};  // gradient 1e35: times a scale above 3402 it is inf
  }
  std::map<std::string, double> EvaluateDev() override { return {{"loss", model_.w.item<double>()}}; }
  void SaveWeights(const std::string&) override {}
  void LoadWeights(const std::string&) override {}

 private:
  struct Model : torch::nn::Module {
    torch::Tensor w;
  } model_;
  int64_t next_ = 0;
};

TEST_F(TrainerTest, Fp16OverflowsLowerTheLossScaleWithoutCountingAsDivergence) {
  fas::TrainConfig c = TinyConfig();
  c.precision = "fp16";
  c.accumulation = 1;
  c.epochs = 1;
  c.eval_every = 0;
  c.best_metric = "loss";
  c.max_nonfinite_steps = 2;
  TempDir d;
  HugeGradientObjective obj;
  const fas::TrainSummary s = fas::Trainer(c, obj, Options(d.path())).Run(false);
  EXPECT_EQ(s.steps, 10);
  EXPECT_EQ(s.skipped_steps, 5);  // 65536 .. 4096 overflow; 2048 fits
  const auto state = nlohmann::json::parse(ReadFile(d / "checkpoints/last/trainer_state.json"));
  EXPECT_EQ(state["grad_scaler"]["scale"], 2048.0);
  EXPECT_EQ(state["grad_scaler"]["growth_tracker"], 5);
  EXPECT_LT(obj.EvaluateDev().at("loss"), 1.0);  // the 5 applied steps moved the weight
}

// Out of memory in a forward pass or in the dev evaluation ends the run with one line naming where and what to
// lower; an op without a deterministic kernel names train.deterministic.
class FailingObjective : public TinyObjective {
 public:
  enum class Failure { kForwardOom, kEvalOom, kNotDeterministic };
  explicit FailingObjective(Failure f) : TinyObjective(7, 4), failure_(f) {}
  std::optional<fas::BatchLoss> NextBatch() override {
    if (++calls_ == 3 && failure_ != Failure::kEvalOom) {
      if (failure_ == Failure::kForwardOom) {
        TORCH_CHECK_WITH(OutOfMemoryError, false, "CUDA out of memory. Tried to allocate 2.00 GiB");
      }
      TORCH_CHECK(false, "scatter_add_cuda_kernel does not have a deterministic implementation, but you set "
                         "'torch.use_deterministic_algorithms(True)'.\nmore text");
    }
    return TinyObjective::NextBatch();
  }
  std::map<std::string, double> EvaluateDev() override {
    if (failure_ == Failure::kEvalOom) TORCH_CHECK_WITH(OutOfMemoryError, false, "CUDA out of memory.");
    return TinyObjective::EvaluateDev();
  }

 private:
  Failure failure_;
  int calls_ = 0;
};

TEST_F(TrainerTest, OutOfMemoryAndNonDeterministicOpsAreOneClearLine) {
  using F = FailingObjective::Failure;
  auto message = [](F f) -> std::string {
    TempDir d;
    FailingObjective obj(f);
    try {
      fas::Trainer(TinyConfig(), obj, Options(d.path())).Run(false);
    } catch (const fas::ConfigError& e) {
      return std::string("config: ") + e.what();
    } catch (const fas::Error& e) {
      return e.what();
    }
    return "no error";
  };
  const std::string forward = message(F::kForwardOom);
  EXPECT_NE(forward.find("ut of memory at step 2 in the forward pass of batch 2 of epoch 0"), std::string::npos)
      << forward;
  EXPECT_NE(forward.find("lower data.batch_size (or data.max_batch_seconds)"), std::string::npos) << forward;
  EXPECT_NE(forward.find("train.precision: bf16"), std::string::npos) << forward;
  const std::string eval = message(F::kEvalOom);
  EXPECT_NE(eval.find("ut of memory in the dev evaluation at step 5"), std::string::npos) << eval;
  const std::string nondet = message(F::kNotDeterministic);
  EXPECT_EQ(nondet.rfind("config: train.deterministic: scatter_add_cuda_kernel does not have a deterministic", 0), 0u)
      << nondet;
  EXPECT_EQ(nondet.find("more text"), std::string::npos) << nondet;
}

TEST(TrainConfig, ValidateNamesTheKey) {
  fas::TrainConfig c;
  c.schedule = "step";
  EXPECT_THROW(c.Validate(), fas::ConfigError);
  c = fas::TrainConfig();
  c.label_smoothing = 1.5;
  try {
    c.Validate();
    FAIL();
  } catch (const fas::ConfigError& e) {
    EXPECT_NE(std::string(e.what()).find("train.label_smoothing"), std::string::npos);
  }
  c = fas::TrainConfig();
  EXPECT_EQ(c.precision, "fp32");
  EXPECT_TRUE(c.tf32);
  EXPECT_FALSE(c.deterministic);
  c.precision = "fp8";
  try {
    c.Validate();
    FAIL();
  } catch (const fas::ConfigError& e) {
    EXPECT_NE(std::string(e.what()).find("train.precision"), std::string::npos) << e.what();
  }
}

}  // namespace

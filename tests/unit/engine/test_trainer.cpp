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
}

}  // namespace

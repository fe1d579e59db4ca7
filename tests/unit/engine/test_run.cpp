// The run engine with a tiny task: the run folder, resume rules, the global batch, the final evaluation on the
// checkpoint chosen for it.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <cstdlib>
#include <filesystem>
#include <nlohmann/json.hpp>

#include "fas/core/error.h"
#include "fas/engine/run.h"
#include "fas/engine/stop_signal.h"
#include "support/test_support.h"
#include "tiny_objective.h"

namespace fs = std::filesystem;
using fas::testing::ReadFile;
using fas::testing::TempDir;
using fas::testing::TinyConfig;
using fas::testing::TinyObjective;

namespace {

class TinyTask : public fas::Task {
 public:
  explicit TinyTask(fas::TrainConfig train, std::string config_text = "name: tiny\n")
      : train_(train), config_text_(std::move(config_text)) {}

  std::string kind() const override { return "tiny"; }
  std::string name() const override { return "tiny"; }
  uint64_t seed() const override { return 7; }
  std::string device() const override { return "cpu"; }
  const fas::TrainConfig& train_config() const override { return train_; }
  bool supports_data_parallel() const override { return false; }
  int batch_size() const override { return 4; }
  std::string ResolvedConfig() const override { return config_text_; }
  void AdoptRun(const std::string& stored_yaml, const std::string& run_dir) override {
    if (ReadFile(stored_yaml) != config_text_) throw fas::ConfigError("the config differs from " + run_dir);
  }
  void Prepare(const fas::RunContext& run) override { prepared_in = run.run_dir; }
  fas::RunInfo Describe() const override {
    fas::RunInfo info;
    info.task = kind();
    info.name = name();
    info.seed = seed();
    info.labels = {"a", "b", "c"};
    return info;
  }
  fas::TrainObjective& Objective(const fas::RunContext&) override {
    objective = std::make_unique<TinyObjective>(7, 4);
    return *objective;
  }
  void EvaluateFinal(const fas::RunContext&) override { final_weights = objective->Flat(); }

  std::unique_ptr<TinyObjective> objective;
  std::string prepared_in;
  torch::Tensor final_weights;

 private:
  fas::TrainConfig train_;
  std::string config_text_;
};

fas::TrainRunOptions At(const fs::path& dir, bool resume = false) {
  fas::TrainRunOptions o;
  o.run_dir = dir.string();
  o.resume = resume;
  return o;
}

class RunTest : public ::testing::Test {
 protected:
  void SetUp() override { torch::set_num_threads(1); }
};

TEST_F(RunTest, NewRunWritesTheRunFolderAndEvaluatesTheBestCheckpoint) {
  TempDir d;
  TinyTask task(TinyConfig());
  const fas::TrainSummary s = fas::TrainRun(task, At(d.path()));
  EXPECT_EQ(s.steps, 24);
  EXPECT_EQ(task.prepared_in, d.path());
  EXPECT_EQ(ReadFile(d / "config.yaml"), "name: tiny\n");
  EXPECT_TRUE(fs::exists(d / "train.log"));
  for (const std::string& dir : {d.path(), d / "checkpoints/best", d / "checkpoints/last"}) {
    const auto run = nlohmann::json::parse(ReadFile(dir + "/run.json"));
    EXPECT_EQ(run["task"], "tiny") << dir;
    EXPECT_EQ(run["labels"], nlohmann::json({"a", "b", "c"})) << dir;
  }
  TinyObjective best(7, 4);
  best.LoadWeights(d / "checkpoints/best/model.safetensors");
  ASSERT_TRUE(task.final_weights.defined());
  EXPECT_TRUE(torch::equal(task.final_weights, best.Flat()));
}

TEST_F(RunTest, AFolderThatHoldsARunIsNotOverwritten) {
  TempDir d;
  fas::TrainConfig c = TinyConfig();
  c.max_steps = 2;
  TinyTask first(c);
  fas::TrainRun(first, At(d.path()));
  TinyTask second(c);
  try {
    fas::TrainRun(second, At(d.path()));
    FAIL() << "a second run into the same folder must be refused";
  } catch (const fas::ConfigError& e) {
    EXPECT_NE(std::string(e.what()).find("--resume"), std::string::npos) << e.what();
  }
}

TEST_F(RunTest, StoppedRunResumesOnlyWithItsOwnConfig) {
  TempDir d;
  {
    TinyTask task(TinyConfig());
    fas::TrainRunOptions o = At(d.path());
    o.on_step = [](int64_t step) {
      if (step == 7) fas::RequestStop();
    };
    EXPECT_THROW(fas::TrainRun(task, o), fas::Interrupted);
  }
  TinyTask other(TinyConfig(), "name: tiny\nlr: 1\n");
  EXPECT_THROW(fas::TrainRun(other, At(d.path(), true)), fas::ConfigError);
  TinyTask same(TinyConfig());
  EXPECT_EQ(fas::TrainRun(same, At(d.path(), true)).steps, 24);

  TempDir empty;
  TinyTask nothing(TinyConfig());
  EXPECT_THROW(fas::TrainRun(nothing, At(empty / "absent", true)), fas::IoError);
}

TEST_F(RunTest, ATaskInOneProcessRefusesDataParallelRanks) {
  TempDir d;
  setenv("WORLD_SIZE", "2", 1);
  setenv("RANK", "0", 1);
  TinyTask task(TinyConfig());
  try {
    fas::TrainRun(task, At(d.path()));
    ADD_FAILURE() << "expected a ConfigError";
  } catch (const fas::ConfigError& e) {
    EXPECT_NE(std::string(e.what()).find("one process"), std::string::npos) << e.what();
  }
  unsetenv("WORLD_SIZE");
  unsetenv("RANK");
  EXPECT_FALSE(fs::exists(d / "config.yaml"));
}

TEST(ResolveAccumulation, GlobalBatchOverBatchSizeAndRanks) {
  fas::TrainConfig c;
  c.accumulation = 3;
  EXPECT_EQ(fas::ResolveAccumulation(c, 4, 2), 3);  // global_batch 0: the config's accumulation
  c.global_batch = 16;
  EXPECT_EQ(fas::ResolveAccumulation(c, 4, 2), 2);
  EXPECT_EQ(fas::ResolveAccumulation(c, 8, 1), 2);
  EXPECT_THROW(fas::ResolveAccumulation(c, 3, 1), fas::ConfigError);
  EXPECT_THROW(fas::ResolveAccumulation(c, 0, 1), fas::ConfigError);  // batches sized by seconds
}

}  // namespace

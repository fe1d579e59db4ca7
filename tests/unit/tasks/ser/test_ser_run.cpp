// The SER commands on a run folder (predict, eval) and `fas extract`, on a tiny run trained for them.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <algorithm>
#include <filesystem>
#include <nlohmann/json.hpp>

#include "fas/config/binder.h"
#include "fas/core/error.h"
#include "fas/tasks/ser/ser_task.h"
#include "ser_fixtures.h"
#include "support/test_support.h"

using fas::testing::AcousticOnlyConfig;
using fas::testing::TempDir;
using fas::testing::TinyAcousticRun;
using fas::testing::WriteNoiseCorpus;

namespace {

class SerRunTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    torch::set_num_threads(1);
    dir_ = new TempDir();
    WriteNoiseCorpus(*dir_, "train.jsonl", 6);
    fas::ExperimentConfig cfg = Config({});
    cfg.train.max_steps = 2;
    fas::TrainExperiment(cfg, {*dir_ / "run", false, {}});
  }
  static void TearDownTestSuite() { delete dir_; }
  static fas::ExperimentConfig Config(std::vector<std::string> extra) {
    std::vector<std::string> sets = TinyAcousticRun(*dir_, "train.jsonl");
    sets.insert(sets.end(), extra.begin(), extra.end());
    return fas::LoadExperimentConfig({AcousticOnlyConfig()}, sets);
  }
  static TempDir* dir_;
};
TempDir* SerRunTest::dir_ = nullptr;

TEST_F(SerRunTest, PredictGivesOneDistributionAFileOverTheRunsClasses) {
  const std::vector<std::string> files = {*dir_ / "train.jsonl.u0.wav", *dir_ / "train.jsonl.u5.wav"};
  const auto out = fas::PredictFiles(*dir_ / "run", files, {}, fas::TranscriberConfig{});
  ASSERT_EQ(out.size(), 2u);
  const auto classes = fas::CanonicalLabels().names;
  for (size_t i = 0; i < out.size(); ++i) {
    EXPECT_EQ(out[i].at("file"), files[i]);
    double total = 0;
    for (const auto& [name, p] : out[i].at("probs").items()) {
      EXPECT_NE(std::find(classes.begin(), classes.end(), name), classes.end()) << name;
      total += p.get<double>();
    }
    EXPECT_NEAR(total, 1.0, 1e-9);
    EXPECT_GT(out[i].at("probs").at(out[i].at("label").get<std::string>()).get<double>(), 0);
  }
}

TEST_F(SerRunTest, EvaluateWritesResultsForTheManifest) {
  const fas::EvalMetrics m = fas::EvaluateRun(*dir_ / "run", *dir_ / "train.jsonl", "again");
  EXPECT_EQ(m.all.n, 6);
  EXPECT_TRUE(std::filesystem::exists(*dir_ / "run/eval/again/results.json"));
  EXPECT_THROW(fas::EvaluateRun(*dir_ / "absent", *dir_ / "train.jsonl", "x"), fas::IoError);
}

TEST_F(SerRunTest, ExtractFillsTheCacheOnceForEveryManifest) {
  const std::string cache = *dir_ / "extract-cache";
  const fas::ExperimentConfig frozen = Config({"model.acoustic.encoder.freeze=all", "data.cache_dir=" + cache});
  EXPECT_EQ(fas::ExtractFeatures(frozen), 6);  // train and dev are the same manifest: each utterance once
  EXPECT_EQ(fas::ExtractFeatures(frozen), 0);
  EXPECT_THROW(fas::ExtractFeatures(Config({"data.cache_dir=" + cache})), fas::ConfigError);  // nothing frozen
}

}  // namespace

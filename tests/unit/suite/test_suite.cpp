// Suites without training: the plan (cells, seeds, sweeps), when a cell counts as finished, and when a cell's run
// was trained with other settings than the suite now gives it.
#include <gtest/gtest.h>

#include <filesystem>

#include "fas/config/binder.h"
#include "fas/suite/suite.h"
#include "support/test_support.h"

namespace fs = std::filesystem;
using fas::testing::SourceDir;
using fas::testing::TempDir;
using fas::testing::WriteFile;

namespace {

fas::SuiteConfig TinySuite(const std::vector<std::string>& sets = {}) {
  return fas::LoadSuite(SourceDir() + "/configs/suites/tiny.yaml", sets);
}

TEST(Suite, PlanIsModelsTimesSeedsWithTheSuitesSettings) {
  TempDir d;
  const auto cells = fas::PlanSuite(TinySuite(), d / "runs");
  ASSERT_EQ(cells.size(), 4u);  // 2 models x 2 seeds
  EXPECT_EQ(cells[0].model, "semantic_only");
  EXPECT_EQ(cells[0].seed, 1u);
  EXPECT_EQ(cells[1].seed, 2u);
  EXPECT_EQ(cells[2].model, "fas");
  EXPECT_EQ(cells[0].run_dir, d / "runs/semantic_only/seed1");
  for (const auto& c : cells) {
    EXPECT_EQ(c.config.seed, c.seed);
    EXPECT_EQ(c.config.train.max_steps, 2);  // the suite's `set:` reaches every cell
    EXPECT_EQ(c.config.data.loader.skip_bad, false);
    ASSERT_EQ(c.config.eval.size(), 2u);
  }
  for (const auto& c : fas::PlanSuite(TinySuite({"data.skip_bad=true"}), d / "runs")) {
    EXPECT_TRUE(c.config.data.loader.skip_bad);
  }
}

// Every shipped suite (a file of configs/suites with `models:`; paper_encoders.yaml there is a model fragment) loads
// and plans: its model files bind, its `set:` keys exist, its cells validate.
TEST(Suite, EveryShippedSuitePlans) {
  TempDir d;
  int suites = 0;
  for (const auto& e : fs::directory_iterator(SourceDir() + "/configs/suites")) {
    const std::string path = e.path().string();
    const bool suite_file = fas::testing::ReadFile(path).find("\nmodels:") != std::string::npos;
    if (e.path().extension() != ".yaml" || !suite_file) continue;
    SCOPED_TRACE(path);
    const fas::SuiteConfig suite = fas::LoadSuite(path);
    EXPECT_FALSE(fas::PlanSuite(suite, d / "runs").empty());
    ++suites;
  }
  EXPECT_GE(suites, 5);
}

// A sweep value equal to the model's own setting is the model's own run, at every seed: synth_robust's rows read
// their stage-one encoders from per-seed folders, so each seed's own run differs from the others'.
TEST(Suite, SweepCellAtTheModelsOwnSettingIsNotTrainedTwice) {
  TempDir d;
  const fas::SuiteConfig suite = fas::LoadSuite(SourceDir() + "/configs/suites/synth_robust.yaml");
  const auto cells = fas::PlanSuite(suite, d / "runs");
  const size_t seeds = suite.seeds.size();
  ASSERT_GE(seeds, 2u);
  int own_value = 0, other_values = 0;
  for (const auto& c : cells) {
    if (c.model != "fas+cf" || c.sweep.empty()) continue;
    const double prob = c.config.train.counterfactual.prob;
    (prob == 0.5 ? own_value : other_values) += 1;
  }
  EXPECT_EQ(own_value, 0);  // fas+cf's own probability: its runs stand for the cell
  EXPECT_EQ(other_values, static_cast<int>(3 * seeds));
}

TEST(Suite, ACellIsFinishedWhenEveryEvaluationSetHasResults) {
  TempDir d;
  const fas::SuiteCell c = fas::PlanSuite(TinySuite(), d / "runs")[0];
  EXPECT_FALSE(fas::CellFinished(c));
  WriteFile(c.run_dir + "/eval/test/results.json", "{}");
  EXPECT_FALSE(fas::CellFinished(c));
  WriteFile(c.run_dir + "/eval/conflict/results.json", "{}");
  EXPECT_TRUE(fas::CellFinished(c));
}

// A run folder whose config.yaml is the cell's (evaluation sets aside) stands for the cell; one trained with other
// settings does not, and the drift names the first line that differs.
TEST(Suite, ConfigDriftNamesTheFirstChangedSetting) {
  TempDir d;
  fas::SuiteCell c = fas::PlanSuite(TinySuite(), d / "runs")[0];
  EXPECT_EQ(fas::CellConfigDrift(c), "");  // no run yet
  fas::ExperimentConfig stored = c.config;
  fs::create_directories(c.run_dir);
  WriteFile(c.run_dir + "/config.yaml", fas::ConfigToString(stored));
  EXPECT_EQ(fas::CellConfigDrift(c), "");
  c.config.eval.pop_back();  // fewer evaluation sets: still the same training
  EXPECT_EQ(fas::CellConfigDrift(c), "");
  c.config.train.lr = 0.125;
  const std::string drift = fas::CellConfigDrift(c);
  EXPECT_NE(drift.find("lr: 0.125"), std::string::npos) << drift;
}

}  // namespace

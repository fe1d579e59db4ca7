// Collecting results: each joined with its run's run.json, or with config.yaml for runs older than run.json, so
// that old and new suites tabulate alike.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "fas/core/error.h"
#include "fas/eval/run_info.h"
#include "fas/eval/run_results.h"
#include "support/test_support.h"

namespace {

using fas::testing::TempDir;
using fas::testing::WriteFile;

void WriteResults(const std::string& run, const std::string& dataset, const nlohmann::json& extra = {}) {
  nlohmann::json j = {
      {"model", "from_results"}, {"dataset", dataset}, {"seed", 3}, {"n", 10}, {"acc", 0.5}, {"ua", 0.5},
      {"macro_f1", 0.4},         {"weighted_f1", 0.45}};
  if (!extra.is_null()) j.update(extra);
  WriteFile(run + "/eval/" + dataset + "/results.json", j.dump());
}

fas::RunInfo Info(const std::string& name, double k_aco) {
  fas::RunInfo info;
  info.task = "ser";
  info.name = name;
  info.seed = 3;
  info.head = "fas";
  info.fusion = {{"k_aco", k_aco}, {"k_sem", 16}, {"num_queries", 2}};
  return info;
}

TEST(CollectRunResults, RunJsonAndConfigYamlGiveTheSameResult) {
  TempDir d;
  WriteResults(d / "new", "test");
  fas::WriteRunInfo(d / "new/run.json", Info("fas@k_aco4", 4));
  WriteFile(d / "old/config.yaml",
            "name: fas@k_aco4\nseed: 3\nmodel:\n  head: fas\n  fusion:\n    k_aco: 4\n"
            "    k_sem: 16\n    num_queries: 2\n    pooling: flatten\n");
  WriteResults(d / "old", "test");
  const auto results = fas::CollectRunResults(d.path());
  ASSERT_EQ(results.size(), 2u);
  for (const auto& r : results) {
    EXPECT_EQ(r.model, "fas@k_aco4") << r.path;
    EXPECT_EQ(r.head, "fas") << r.path;
    EXPECT_EQ(r.fusion, Info("", 4).fusion) << r.path;
  }
  EXPECT_EQ(results[0].run_dir, d / "new");
  EXPECT_EQ(results[1].run_dir, d / "old");
}

TEST(CollectRunResults, RunJsonWinsAndResultsJsonHasTheLastWordOnFusion) {
  TempDir d;
  WriteFile(d / "run/config.yaml", "name: stale\nmodel:\n  head: concat\n");
  fas::WriteRunInfo(d / "run/run.json", Info("fas", 8));
  WriteResults(d / "run", "test", {{"fusion", {{"num_queries", 8}}}});
  WriteResults(d / "run", "conflict");
  const auto results = fas::CollectRunResults(d.path());
  ASSERT_EQ(results.size(), 2u);
  EXPECT_EQ(results[0].model, "fas");
  EXPECT_EQ(results[0].fusion.at("num_queries"), 2) << "conflict: the run's setting";
  EXPECT_EQ(results[1].fusion.at("num_queries"), 8) << "test: results.json's own";
  EXPECT_EQ(fas::ReadRunResult(d / "run/eval/test/results.json").fusion.at("num_queries"), 8);
}

TEST(CollectRunResults, WithoutRunInfoTheResultsNameTheRow) {
  TempDir d;
  WriteResults(d / "bare", "test", {{"model", "gated@x"}});
  const auto r = fas::ReadRunResult(d / "bare/eval/test/results.json");
  EXPECT_EQ(r.model, "gated@x");
  EXPECT_EQ(r.head, "gated");
  EXPECT_TRUE(r.fusion.empty());
}

TEST(CollectRunResults, AMalformedRunJsonNamesIt) {
  TempDir d;
  WriteFile(d / "run/run.json", R"({"format": 1})");
  WriteResults(d / "run", "test");
  try {
    fas::CollectRunResults(d.path());
    FAIL() << "expected an error";
  } catch (const fas::DataError& e) {
    EXPECT_NE(std::string(e.what()).find(d / "run/run.json"), std::string::npos) << e.what();
  }
}

TEST(RunNames, SweepCellsAndTheirModel) {
  EXPECT_EQ(fas::BaseModel("fas@k_aco4-k_sem8"), "fas");
  EXPECT_EQ(fas::BaseModel("concat"), "concat");
  EXPECT_TRUE(fas::IsSweepCell("fas@num_queries8"));
  EXPECT_FALSE(fas::IsSweepCell("fas"));
}

}  // namespace

// Table 1's figures from an evaluation's files: scored utterances, hours from the manifest's durations, the classes
// of the truth after the label map, what the map dropped; the manifest found from where the run was made.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "fas/eval/dataset_stats.h"
#include "fas/eval/tables.h"
#include "support/test_support.h"

namespace {

using fas::testing::TempDir;
using fas::testing::WriteFile;

// work/corpus/test.jsonl (three utterances, 1800 + 3600 + 900 s) and a run, made from `work`, that scored two of
// them (the third is unlabelled in its predictions).
class DatasetStats : public ::testing::Test {
 protected:
  void SetUp() override {
    WriteFile(d / "work/corpus/test.jsonl", manifest);
    const nlohmann::json results = {
        {"model", "fas"},
        {"dataset", "test"},
        {"seed", 1},
        {"n", 2},
        {"acc", 0.5},
        {"ua", 0.5},
        {"macro_f1", 0.5},
        {"weighted_f1", 0.5},
        {"manifest", "corpus/test.jsonl"},
        {"run", "runs/fas/seed1"},
        {"labels", {"neutral", "happy", "sad"}},
        {"per_class", {{"neutral", {{"support", 1}}}, {"happy", {{"support", 0}}}, {"sad", {{"support", 1}}}}},
        {"label_map", {{"kept", 2}, {"dropped", {{"xxx", 3}, {"oth", 1}}}}}};
    WriteFile(d / "work/runs/fas/seed1/eval/test/results.json", results.dump());
    WriteFile(
        d / "work/runs/fas/seed1/eval/test/predictions.jsonl",
        "{\"id\":\"a\",\"label\":\"neutral\",\"pred\":\"happy\"}\n{\"id\":\"b\",\"label\":\"sad\",\"pred\":\"sad\"}\n"
        "{\"id\":\"c\",\"label\":\"\",\"pred\":\"sad\"}\n");
  }
  TempDir d;
  std::string manifest =
      "{\"id\":\"a\",\"audio\":\"a.wav\",\"duration\":1800}\n{\"id\":\"b\",\"audio\":\"b.wav\",\"duration\":3600}\n"
      "{\"id\":\"c\",\"audio\":\"c.wav\",\"duration\":900}\n";
};

TEST_F(DatasetStats, ScoredUtterancesHoursClassesAndDrops) {
  const auto s = fas::ReadSetStatistics(fas::ReadRunResult(d / "work/runs/fas/seed1/eval/test/results.json"));
  EXPECT_EQ(s.utterances, 2);
  ASSERT_TRUE(s.hours.has_value()) << "the manifest is found from where the run was made";
  EXPECT_DOUBLE_EQ(*s.hours, 1.5) << "a and b; c was not scored";
  EXPECT_EQ(s.classes, (std::vector<std::string>{"neutral", "sad"})) << "happy was only predicted";
  EXPECT_EQ(s.dropped, 4);
}

TEST_F(DatasetStats, AMissingDurationLeavesHoursUnknown) {
  WriteFile(d / "work/corpus/test.jsonl", "{\"id\":\"a\",\"audio\":\"a.wav\"}\n{\"id\":\"b\",\"audio\":\"b.wav\"}\n");
  const auto s = fas::ReadSetStatistics(fas::ReadRunResult(d / "work/runs/fas/seed1/eval/test/results.json"));
  EXPECT_FALSE(s.hours.has_value());
  EXPECT_EQ(s.without_duration, 2);
  const auto tables = fas::BuildPaperTables(fas::CollectRunResults(d / "work/runs"), fas::PublishedNumbers());
  ASSERT_EQ(tables.front().name, "datasets");
  EXPECT_EQ(tables.front().rows.at(0).at(3).text, "–");
}

}  // namespace

// The tables' statistics on hand-made cells: the setting most runs share, per-run averages, the best cells.
#include <gtest/gtest.h>

#include "fas/eval/table_stats.h"

namespace {

fas::RunResult Result(const std::string& run, const std::string& dataset, double acc, double k_aco = 8) {
  fas::RunResult r;
  r.run_dir = run;
  r.dataset = dataset;
  r.acc = acc;
  r.fusion["k_aco"] = k_aco;
  return r;
}

fas::TableCell Stats(double mean) {
  fas::TableCell c;
  c.kind = fas::TableCell::Kind::kStats;
  c.stats.mean = mean;
  c.stats.n = 1;
  return c;
}

fas::TableCell Label(const std::string& text) {
  fas::TableCell c;
  c.kind = fas::TableCell::Kind::kText;
  c.text = text;
  return c;
}

fas::Table TwoByTwo(double a1, double a2, double b1, double b2) {
  fas::Table t;
  t.columns = {{"model", fas::TableColumn::Kind::kLabel},
               {"x", fas::TableColumn::Kind::kOurs},
               {"y", fas::TableColumn::Kind::kOurs}};
  t.rows = {{Label("a"), Stats(a1), Stats(a2)}, {Label("b"), Stats(b1), Stats(b2)}};
  return t;
}

TEST(TableStats, ModalValueTakesTheCommonestAndTheSmallestOnTies) {
  const std::vector<fas::RunResult> runs = {Result("r1", "t", 0, 8), Result("r2", "t", 0, 4), Result("r3", "t", 0, 8),
                                            Result("r4", "t", 0, 16)};
  std::vector<const fas::RunResult*> all;
  for (const auto& r : runs) all.push_back(&r);
  auto k_aco = [](const fas::RunResult& r) { return r.fusion.at("k_aco"); };
  EXPECT_EQ(fas::ModalValue<double>(all, k_aco), 8);
  EXPECT_EQ(fas::ModalValue<double>({all[1], all[3]}, k_aco), 4);
}

TEST(TableStats, RunAveragesCountOnlyRunsWithEveryDataset) {
  const std::vector<fas::RunResult> runs = {Result("r1", "a", 0.5), Result("r1", "b", 0.7), Result("r2", "a", 0.9),
                                            Result("r2", "other", 0.1)};
  std::vector<const fas::RunResult*> all;
  for (const auto& r : runs) all.push_back(&r);
  const auto avgs = fas::RunAverages(all, {"a", "b"});
  ASSERT_EQ(avgs.size(), 1u);
  EXPECT_DOUBLE_EQ(avgs[0], 0.6);
}

TEST(TableStats, BestPerColumnOrOverTheTable) {
  auto t = TwoByTwo(60, 10, 50, 20);
  fas::MarkBest(t);
  EXPECT_TRUE(t.rows[0][1].best);
  EXPECT_FALSE(t.rows[1][1].best);
  EXPECT_TRUE(t.rows[1][2].best);
  EXPECT_FALSE(t.rows[0][2].best);

  t = TwoByTwo(60, 10, 50, 20);
  t.best_of_table = true;
  fas::MarkBest(t);
  EXPECT_TRUE(t.rows[0][1].best);
  EXPECT_FALSE(t.rows[1][2].best) << "one comparison over the grid";

  t = TwoByTwo(60, 10, 50, 20);
  t.columns[1].lower_is_better = true;
  fas::MarkBest(t);
  EXPECT_TRUE(t.rows[1][1].best);
}

TEST(TableStats, TiesAsPrintedAndLoneCells) {
  auto t = TwoByTwo(60.001, 10, 59.999, 20);
  fas::MarkBest(t);
  EXPECT_TRUE(t.rows[0][1].best);
  EXPECT_TRUE(t.rows[1][1].best) << "60.00 both";
  t = TwoByTwo(60, 10, 50, 20);
  t.rows[1][1] = fas::TableCell();
  fas::MarkBest(t);
  EXPECT_FALSE(t.rows[0][1].best) << "no best among one";
  EXPECT_EQ(fas::FormatPercent(59.999), "60.00");
}

}  // namespace

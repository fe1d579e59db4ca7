// Paired comparisons from hand-made run folders whose discordant pairs are known: McNemar pooled and per seed, Holm
// over a set's comparisons, the bootstrap interval's place, the semantic-bias difference, the comparisons table
// and the main table's marks.
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <nlohmann/json.hpp>

#include "fas/core/error.h"
#include "fas/eval/tables.h"
#include "support/test_support.h"

namespace {

using fas::testing::TempDir;
using fas::testing::WriteFile;

const std::vector<std::string> kEmotions = {"happy", "sad", "angry"};
constexpr int kUtterances = 30;

// A run folder on the all-conflict set `conflict`: utterance i is right when `right(i)`, else predicted as its
// words' emotion.
void WriteRun(const std::string& dir, const std::string& name, int seed, const std::function<bool(int)>& right,
              const std::string& relabel = "") {
  WriteFile(dir + "/config.yaml",
            "name: " + name + "\nseed: " + std::to_string(seed) + "\nmodel:\n  head: " + name + "\n");
  std::string lines;
  int correct = 0;
  for (int i = 0; i < kUtterances; ++i) {
    const std::string label = i == 0 && !relabel.empty() ? relabel : kEmotions[i % 3];
    const std::string words = kEmotions[(i + 1) % 3];
    correct += right(i);
    const nlohmann::ordered_json line = {{"id", "u" + std::to_string(i)},
                                         {"label", label},
                                         {"pred", right(i) ? label : words},
                                         {"text_label", words},
                                         {"conflict", true}};
    lines += line.dump() + "\n";
  }
  const double acc = static_cast<double>(correct) / kUtterances;
  const nlohmann::json results = {
      {"model", name}, {"dataset", "conflict"}, {"seed", seed},      {"n", kUtterances}, {"acc", acc},
      {"ua", acc},     {"macro_f1", acc},       {"weighted_f1", acc}};
  WriteFile(dir + "/eval/conflict/results.json", results.dump());
  WriteFile(dir + "/eval/conflict/predictions.jsonl", lines);
}

class Comparisons : public ::testing::Test {
 protected:
  void SetUp() override {
    for (int seed : {1, 2}) {
      const std::string s = "/seed" + std::to_string(seed);
      WriteRun(dir / ("fas" + s), "fas", seed, [](int) { return true; });
      // concat misses the last 10 utterances under seed 1 and the last 5 under seed 2: 15 discordant pairs.
      WriteRun(dir / ("concat" + s), "concat", seed, [seed](int i) { return i < (seed == 1 ? 20 : 25); });
      // acoustic_only misses one utterance under seed 1: one discordant pair.
      WriteRun(dir / ("acoustic_only" + s), "acoustic_only", seed, [seed](int i) { return seed == 2 || i != 0; });
    }
  }
  TempDir dir;
};

const fas::Comparison& Find(const std::vector<fas::Comparison>& all, const std::string& b) {
  for (const auto& c : all) {
    if (c.b == b) return c;
  }
  throw std::runtime_error("no comparison with " + b);
}

TEST_F(Comparisons, McNemarPooledAndPerSeedWithHolmOverTheSet) {
  const auto results = fas::CollectRunResults(dir.path());
  std::vector<const fas::RunResult*> runs;
  for (const auto& r : results) runs.push_back(&r);
  const auto all = fas::CompareModels(runs, {{"fas", "concat"}, {"fas", "acoustic_only"}});
  ASSERT_EQ(all.size(), 2u);
  const auto& concat = Find(all, "concat");
  EXPECT_EQ(concat.seeds, (std::vector<uint64_t>{1, 2}));
  EXPECT_EQ(concat.utterances, kUtterances);
  EXPECT_EQ(concat.a_only, 15);
  EXPECT_EQ(concat.b_only, 0);
  EXPECT_DOUBLE_EQ(concat.p, std::ldexp(1.0, -14)) << "2 * 2^-15";
  EXPECT_EQ(concat.p_seed, (std::vector<double>{std::ldexp(1.0, -9), std::ldexp(1.0, -4)}));
  EXPECT_DOUBLE_EQ(concat.p_holm, 2 * concat.p) << "the smaller of two p-values is doubled";
  EXPECT_TRUE(concat.significant);
  EXPECT_NEAR(concat.delta_acc[0], 10.0 / 30, 1e-12);
  EXPECT_NEAR(concat.delta_acc[1], 5.0 / 30, 1e-12);
  EXPECT_NEAR(concat.delta_bias[0], -10.0 / 30, 1e-12) << "concat's misses follow the words";
  // Every resample has A at least as right as B; the interval holds the mean difference, 0.25.
  EXPECT_GE(concat.ci.acc.lo, 0.0);
  EXPECT_LT(concat.ci.acc.lo, 0.25);
  EXPECT_GT(concat.ci.acc.hi, 0.25);
  EXPECT_EQ(concat.ci.resamples, 2000);

  const auto& acoustic = Find(all, "acoustic_only");
  EXPECT_EQ(acoustic.a_only, 1);
  EXPECT_DOUBLE_EQ(acoustic.p, 1.0);
  EXPECT_DOUBLE_EQ(acoustic.p_holm, 1.0);
  EXPECT_FALSE(acoustic.significant);
}

TEST_F(Comparisons, ARunWithoutPredictionsLeavesItsSeedOut) {
  std::filesystem::remove(dir / "concat/seed2/eval/conflict/predictions.jsonl");
  const auto results = fas::CollectRunResults(dir.path());
  std::vector<const fas::RunResult*> runs;
  for (const auto& r : results) runs.push_back(&r);
  const auto all = fas::CompareModels(runs, {{"fas", "concat"}});
  ASSERT_EQ(all.size(), 1u);
  EXPECT_EQ(all[0].seeds, (std::vector<uint64_t>{1}));
  EXPECT_EQ(all[0].a_only, 10);
  EXPECT_TRUE(fas::CompareModels(runs, {{"fas", "gated"}}).empty()) << "a model without runs compares with nothing";
}

TEST_F(Comparisons, RunsOfDifferentLabelsAreRefused) {
  WriteRun(
      dir / "concat/seed1", "concat", 1, [](int) { return true; }, "angry");
  const auto results = fas::CollectRunResults(dir.path());
  std::vector<const fas::RunResult*> runs;
  for (const auto& r : results) runs.push_back(&r);
  try {
    fas::CompareModels(runs, {{"fas", "concat"}});
    FAIL() << "expected a DataError";
  } catch (const fas::DataError& e) {
    EXPECT_NE(std::string(e.what()).find("utterance 'u0'"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("concat/seed1"), std::string::npos) << e.what();
  }
}

TEST(DefaultComparisons, EveryModelAgainstFasElseTheLastRow) {
  const auto with_fas = fas::DefaultComparisons({"acoustic_only", "concat", "fas"});
  ASSERT_EQ(with_fas.size(), 2u);
  EXPECT_EQ(with_fas[0].a, "fas");
  EXPECT_EQ(with_fas[0].b, "acoustic_only");
  EXPECT_EQ(with_fas[1].b, "concat");
  const auto without = fas::DefaultComparisons({"acoustic_only", "gated"});
  ASSERT_EQ(without.size(), 1u);
  EXPECT_EQ(without[0].a, "gated");
  EXPECT_TRUE(fas::DefaultComparisons({"fas"}).empty());
}

const fas::Table& Table(const std::vector<fas::Table>& tables, const std::string& name) {
  for (const auto& t : tables) {
    if (t.name == name) return t;
  }
  throw std::runtime_error("no table " + name);
}

const fas::TableCell& Cell(const fas::Table& t, size_t row, const std::string& header) {
  for (size_t c = 0; c < t.columns.size(); ++c) {
    if (t.columns[c].header == header) return t.rows.at(row)[c];
  }
  throw std::runtime_error("no column " + header);
}

TEST_F(Comparisons, TablesShowTheTestsAndMarkTheMainTable) {
  const auto tables = fas::BuildPaperTables(fas::CollectRunResults(dir.path()), fas::PublishedNumbers());
  const auto& cmp = Table(tables, "comparisons");
  ASSERT_EQ(cmp.rows.size(), 2u) << "default: fas against each other model, in row order";
  EXPECT_EQ(Cell(cmp, 0, "B").text, "acoustic_only");
  EXPECT_EQ(Cell(cmp, 1, "A").text, "fas");
  EXPECT_EQ(Cell(cmp, 1, "B").text, "concat");
  EXPECT_EQ(Cell(cmp, 1, "A+B- / A-B+").text, "15 / 0");
  EXPECT_NEAR(Cell(cmp, 1, "ΔACC").stats.mean, 25.0, 1e-9);
  EXPECT_NEAR(Cell(cmp, 1, "Δ semantic bias").stats.mean, -25.0, 1e-9);
  EXPECT_EQ(Cell(cmp, 1, "p per seed").text, "0.002, 0.062");
  EXPECT_EQ(Cell(cmp, 1, "p (Holm)").mark, "*");
  EXPECT_EQ(Cell(cmp, 0, "p (Holm)").mark, "");
  EXPECT_FALSE(Cell(cmp, 1, "ΔACC").best) << "differences are not ranked";
  const std::string md = fas::RenderMarkdown(cmp);
  EXPECT_NE(md.find("| 1.2e-04* |"), std::string::npos) << md;
  EXPECT_NE(md.find("Holm-corrected over the comparisons of the same set"), std::string::npos) << md;

  const auto& main = Table(tables, "main");
  const std::vector<std::string> order = {"acoustic_only", "concat", "fas"};
  for (size_t r = 0; r < order.size(); ++r) {
    ASSERT_EQ(main.rows[r][0].text, order[r]);
    EXPECT_EQ(Cell(main, r, "conflict ACC").mark, order[r] == "concat" ? "†" : "") << order[r];
  }
  EXPECT_NE(fas::RenderMarkdown(main).find("†: ACC differs from fas's on this set"), std::string::npos);
  EXPECT_NE(fas::RenderLatex(main).find("$^\\dagger$"), std::string::npos);
}

TEST_F(Comparisons, TheSuitesPairsChooseTheReference) {
  fas::TableOptions options;
  options.comparisons = {{"concat", "acoustic_only"}};
  const auto tables =
      fas::BuildTables(fas::PaperTableKinds(), fas::CollectRunResults(dir.path()), fas::PublishedNumbers(), options);
  const auto& cmp = Table(tables, "comparisons");
  ASSERT_EQ(cmp.rows.size(), 1u);
  EXPECT_EQ(Cell(cmp, 0, "A+B- / A-B+").text, "1 / 15");
  EXPECT_EQ(Cell(Table(tables, "main"), 0, "conflict ACC").mark, "†") << "acoustic_only differs from concat";
}

}  // namespace

// The paper tables from hand-made run folders: mean ± std over seeds, best marking, the published columns and
// averages, both F1s, the sweep layouts, and the three output formats.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "fas/core/error.h"
#include "fas/eval/tables.h"
#include "support/test_support.h"

namespace {

using fas::testing::ReadFile;
using fas::testing::TempDir;
using fas::testing::WriteFile;

struct Scores {
  double acc, f1;
  double congruent = 0, conflict = 0, bias = 0;
  int conflict_n = 0;
};

// A run folder as `fas train` leaves it: config.yaml plus eval/NAME/results.json for each dataset.
void WriteRun(const std::string& dir, const std::string& name, const std::string& head, int seed,
              const std::map<std::string, Scores>& scores, int k_aco = 8, int k_sem = 16, int nq = 2,
              int64_t params = 0) {
  WriteFile(dir + "/config.yaml", "name: " + name + "\nseed: " + std::to_string(seed) + "\nmodel:\n  head: " + head +
                                      "\n  fusion:\n    k_aco: " + std::to_string(k_aco) +
                                      "\n    k_sem: " + std::to_string(k_sem) +
                                      "\n    num_queries: " + std::to_string(nq) + "\n");
  for (const auto& [dataset, s] : scores) {
    nlohmann::json j = {{"model", head},     {"dataset", dataset},  {"seed", seed},   {"n", 100},
                        {"acc", s.acc},      {"ua", s.acc},         {"macro_f1", s.f1}, {"weighted_f1", s.f1},
                        {"labels", {"happy"}}, {"confusion", {{1}}}};
    j["conflict"] = {{"n", s.conflict_n}, {"acc", s.conflict}, {"semantic_bias_rate", s.bias}};
    j["congruent"] = {{"n", 100 - s.conflict_n}, {"acc", s.congruent}};
    if (params > 0) j["trainable_parameters"] = params;
    WriteFile(dir + "/eval/" + dataset + "/results.json", j.dump(2));
  }
}

fas::PublishedNumbers Published() {
  return fas::PublishedNumbers::Load(fas::testing::SourceDir() + "/configs/paper/published.yaml");
}

const fas::Table* Find(const std::vector<fas::Table>& tables, const std::string& name) {
  for (const auto& t : tables) {
    if (t.name == name) return &t;
  }
  return nullptr;
}

// The cell under `header` in the row labelled `row`.
const fas::TableCell& Cell(const fas::Table& t, const std::string& row, const std::string& header) {
  size_t c = 0;
  while (c < t.columns.size() && t.columns[c].header != header) ++c;
  if (c == t.columns.size()) throw std::runtime_error("no column " + header);
  for (const auto& r : t.rows) {
    if (r[0].text == row) return r[c];
  }
  throw std::runtime_error("no row " + row);
}

class Tables : public ::testing::Test {
 protected:
  void SetUp() override {
    // fas beats semantic_only on conflict; semantic_only wins in-domain.
    WriteRun(dir / "fas/seed1", "fas", "fas", 1,
             {{"test", {0.80, 0.78, 0.85, 0.60, 0.20, 25}}, {"conflict", {0.60, 0.55, 0.70, 0.58, 0.30, 90}}}, 8, 16, 2,
             3450000);
    WriteRun(dir / "fas/seed2", "fas", "fas", 2,
             {{"test", {0.84, 0.80, 0.88, 0.66, 0.16, 25}}, {"conflict", {0.70, 0.65, 0.72, 0.70, 0.20, 90}}}, 8, 16,
             2, 3450000);
    WriteRun(dir / "semantic_only/seed1", "semantic_only", "semantic_only", 1,
             {{"test", {0.90, 0.88, 0.95, 0.10, 0.90, 25}}, {"conflict", {0.20, 0.15, 0.90, 0.12, 0.85, 90}}});
    WriteRun(dir / "semantic_only/seed2", "semantic_only", "semantic_only", 2,
             {{"test", {0.92, 0.90, 0.96, 0.12, 0.88, 25}}, {"conflict", {0.22, 0.17, 0.92, 0.14, 0.86, 90}}});
  }
  TempDir dir;
};

TEST(Aggregate, MeanAndSampleStdInPercent) {
  const auto s = fas::Aggregate({0.5, 0.6});
  EXPECT_EQ(s.n, 2);
  EXPECT_NEAR(s.mean, 55.0, 1e-9);
  EXPECT_NEAR(s.std, 7.0710678, 1e-6);  // sample std (n - 1)
  const auto one = fas::Aggregate({0.25});
  EXPECT_EQ(one.n, 1);
  EXPECT_NEAR(one.mean, 25.0, 1e-9);
  EXPECT_EQ(one.std, 0.0);
}

TEST_F(Tables, ResultsCarryNameFromConfigAndFiguresFromJson) {
  const auto results = fas::CollectRunResults(dir.path());
  ASSERT_EQ(results.size(), 8u);
  const auto& r = results.front();  // sorted by path: fas/seed1/eval/conflict
  EXPECT_EQ(r.model, "fas");
  EXPECT_EQ(r.head, "fas");
  EXPECT_EQ(r.dataset, "conflict");
  EXPECT_EQ(r.seed, 1u);
  EXPECT_EQ(r.run_dir, dir / "fas/seed1");
  EXPECT_DOUBLE_EQ(r.acc, 0.60);
  EXPECT_EQ(r.conflict_n, 90);
  ASSERT_TRUE(r.semantic_bias_rate.has_value());
  EXPECT_DOUBLE_EQ(*r.semantic_bias_rate, 0.30);
  EXPECT_EQ(r.trainable_parameters.value_or(0), 3450000);
  EXPECT_EQ(r.fusion.at("k_sem"), 16);
}

TEST_F(Tables, MainTableHasMeanStdBestAndPublishedColumn) {
  const auto tables = fas::BuildPaperTables(fas::CollectRunResults(dir.path()), Published());
  const fas::Table* main = Find(tables, "main");
  ASSERT_NE(main, nullptr);
  // Zero-shot first, as in the paper: the conflict set where CASE is, then its paper column.
  EXPECT_EQ(main->columns[1].header, "conflict ACC");
  EXPECT_EQ(main->columns[2].header, "paper CASE ACC");
  const auto& fas_conflict = Cell(*main, "fas", "conflict ACC");
  EXPECT_EQ(fas_conflict.stats.n, 2);
  EXPECT_NEAR(fas_conflict.stats.mean, 65.0, 1e-9);
  EXPECT_NEAR(fas_conflict.stats.std, 7.0710678, 1e-6);
  EXPECT_TRUE(fas_conflict.best);
  EXPECT_FALSE(Cell(*main, "semantic_only", "conflict ACC").best);
  EXPECT_TRUE(Cell(*main, "semantic_only", "test ACC").best);
  EXPECT_DOUBLE_EQ(Cell(*main, "fas", "paper CASE ACC").number, 59.38);
  EXPECT_DOUBLE_EQ(Cell(*main, "fas", "paper CASE F1").number, 55.08);
  EXPECT_EQ(Cell(*main, "semantic_only", "paper CASE ACC").kind, fas::TableCell::Kind::kEmpty);
  // FAS is the paper's last row.
  EXPECT_EQ(main->rows.back()[0].text, "fas");

  const std::string md = fas::RenderMarkdown(*main);
  EXPECT_NE(md.find("**65.00 ± 7.07**"), std::string::npos) << md;
  EXPECT_NE(md.find("59.38"), std::string::npos) << md;
  EXPECT_NE(md.find("paper CASE ACC"), std::string::npos) << md;
  EXPECT_NE(md.find("mean ± standard deviation over seeds"), std::string::npos) << md;
}

TEST_F(Tables, ConflictTableMarksLowestSemanticBias) {
  const auto tables = fas::BuildPaperTables(fas::CollectRunResults(dir.path()), Published());
  const fas::Table* t = Find(tables, "conflict");
  ASSERT_NE(t, nullptr);
  EXPECT_TRUE(Cell(*t, "fas", "conflict: semantic bias").best);
  EXPECT_FALSE(Cell(*t, "semantic_only", "conflict: semantic bias").best);
  EXPECT_NEAR(Cell(*t, "fas", "conflict: conflict ACC").stats.mean, 64.0, 1e-9);
  EXPECT_TRUE(Cell(*t, "semantic_only", "conflict: congruent ACC").best);
  EXPECT_DOUBLE_EQ(Cell(*t, "fas", "paper CASE ACC").number, 59.38);
}

TEST_F(Tables, AblationShowsParametersBesideThePaper) {
  const auto tables = fas::BuildPaperTables(fas::CollectRunResults(dir.path()), Published());
  const fas::Table* t = Find(tables, "ablation");
  ASSERT_NE(t, nullptr);
  EXPECT_DOUBLE_EQ(Cell(*t, "fas", "params").number, 3450000);
  EXPECT_DOUBLE_EQ(Cell(*t, "fas", "paper params").number, 3.45e6);
  EXPECT_EQ(Cell(*t, "semantic_only", "params").kind, fas::TableCell::Kind::kEmpty);
  const std::string md = fas::RenderMarkdown(*t);
  EXPECT_NE(md.find("3.45M"), std::string::npos) << md;
}

TEST_F(Tables, SweepCellsMakeTheGridAndStayOutOfTheMainTable) {
  for (int k_aco : {4, 8}) {
    for (int k_sem : {8, 16}) {
      if (k_aco == 8 && k_sem == 16) continue;  // the base run is that cell
      const double acc = 0.5 + 0.01 * k_aco + 0.005 * k_sem;
      WriteRun(dir / ("fas/k" + std::to_string(k_aco) + "_" + std::to_string(k_sem) + "/seed1"),
               "fas@k_aco=" + std::to_string(k_aco) + ",k_sem=" + std::to_string(k_sem), "fas", 1,
               {{"test", {acc, acc}}, {"conflict", {acc, acc}}}, k_aco, k_sem, 2);
    }
  }
  WriteRun(dir / "fas/nq8/seed1", "fas@num_queries=8", "fas", 1, {{"test", {0.5, 0.5}}, {"conflict", {0.61, 0.5}}},
           8, 16, 8);
  const auto tables = fas::BuildPaperTables(fas::CollectRunResults(dir.path()), Published());
  const fas::Table* main = Find(tables, "main");
  ASSERT_NE(main, nullptr);
  EXPECT_EQ(main->rows.size(), 2u);  // fas, semantic_only: sweep cells are not rows

  const fas::Table* grid = Find(tables, "token_budget");
  ASSERT_NE(grid, nullptr);
  ASSERT_EQ(grid->rows.size(), 2u);
  ASSERT_EQ(grid->columns.size(), 3u);
  // (8, 16): the base runs' average over both sets, (0.80 + 0.60 + 0.84 + 0.70) / 4 over two seeds.
  const auto& base = Cell(*grid, "k_aco=8", "k_sem=16");
  EXPECT_EQ(base.stats.n, 2);
  EXPECT_NEAR(base.stats.mean, 73.5, 1e-9);
  EXPECT_TRUE(base.best);  // one best over the whole grid
  EXPECT_FALSE(Cell(*grid, "k_aco=8", "k_sem=8").best);
  EXPECT_NEAR(Cell(*grid, "k_aco=4", "k_sem=8").stats.mean, 58.0, 1e-9);
  EXPECT_NE(fas::RenderMarkdown(*grid).find("62.06"), std::string::npos);

  const fas::Table* queries = Find(tables, "queries");
  ASSERT_NE(queries, nullptr);
  ASSERT_EQ(queries->rows.size(), 2u);
  EXPECT_DOUBLE_EQ(Cell(*queries, "8", "paper CASE ACC").number, 60.5);
  EXPECT_DOUBLE_EQ(Cell(*queries, "2", "paper CASE ACC").number, 59.38);
  EXPECT_NEAR(Cell(*queries, "8", "conflict ACC").stats.mean, 61.0, 1e-9);
  EXPECT_FALSE(Cell(*queries, "8", "conflict ACC").best);
  EXPECT_TRUE(Cell(*queries, "2", "conflict ACC").best);
}

// Any swept setting (here a training probability the grid tables know nothing of) gets the sweeps table: the model's
// own runs, then each cell, ACC per set and the semantic bias on the sets with conflicts.
TEST_F(Tables, SweepsTableShowsEachSweptModelBesideItsCells) {
  WriteRun(dir / "semantic_only/prob0.25/seed1", "semantic_only@prob0.25", "semantic_only", 1,
           {{"test", {0.70, 0.70}}, {"conflict", {0.40, 0.40, 0.0, 0.40, 0.50, 90}}});
  WriteRun(dir / "semantic_only/prob0.25/seed2", "semantic_only@prob0.25", "semantic_only", 2,
           {{"test", {0.74, 0.74}}, {"conflict", {0.44, 0.44, 0.0, 0.44, 0.40, 90}}});
  const auto tables = fas::BuildPaperTables(fas::CollectRunResults(dir.path()), Published());
  const fas::Table* sweeps = Find(tables, "sweeps");
  ASSERT_NE(sweeps, nullptr);
  ASSERT_EQ(sweeps->rows.size(), 2u);  // fas has no cells: not a row
  EXPECT_NEAR(Cell(*sweeps, "semantic_only (its own setting)", "conflict ACC").stats.mean, 21.0, 1e-9);
  EXPECT_NEAR(Cell(*sweeps, "semantic_only@prob0.25", "conflict ACC").stats.mean, 42.0, 1e-9);
  EXPECT_EQ(Cell(*sweeps, "semantic_only@prob0.25", "test ACC").stats.n, 2);
  EXPECT_NEAR(Cell(*sweeps, "semantic_only@prob0.25", "conflict semantic bias").stats.mean, 45.0, 1e-9);
}

TEST_F(Tables, OneSeedPrintsMeanOnlyAndNoBestAmongOne) {
  TempDir one;
  WriteRun(one / "fas/seed1", "fas", "fas", 1, {{"test", {0.8, 0.7}}});
  const auto tables = fas::BuildPaperTables(fas::CollectRunResults(one.path()), Published());
  const std::string md = fas::RenderMarkdown(*Find(tables, "main"));
  EXPECT_NE(md.find(" 80.00 |"), std::string::npos) << md;
  EXPECT_EQ(md.find("±"), std::string::npos) << md;
  EXPECT_EQ(md.find("**"), std::string::npos) << md;
  EXPECT_EQ(Find(tables, "conflict"), nullptr);  // no conflict utterances anywhere
}

TEST_F(Tables, LatexAndCsvCarryTheSameCells) {
  const auto tables = fas::BuildPaperTables(fas::CollectRunResults(dir.path()), Published());
  const fas::Table* main = Find(tables, "main");
  const std::string tex = fas::RenderLatex(*main);
  EXPECT_NE(tex.find("\\textbf{65.00 $\\pm$ 7.07}"), std::string::npos) << tex;
  EXPECT_NE(tex.find("semantic\\_only"), std::string::npos) << tex;
  EXPECT_NE(tex.find("\\begin{tabular}{l"), std::string::npos) << tex;
  const std::string csv = fas::RenderCsv(*main);
  EXPECT_NE(csv.find("main,fas,conflict ACC,ours,65.00,7.07,2,1,\n"), std::string::npos) << csv;
  EXPECT_NE(csv.find("main,fas,paper CASE ACC,paper,59.38,,,0,\n"), std::string::npos) << csv;

  TempDir out;
  const auto files = fas::WriteTables(tables, out / "tables", {"md", "csv"});
  EXPECT_EQ(files.size(), 2 * tables.size());
  EXPECT_EQ(ReadFile(out / "tables/main.md"), fas::RenderMarkdown(*main));
  EXPECT_THROW(fas::WriteTables(tables, out / "tables", {"html"}), fas::ConfigError);
}

TEST(TablesInput, MalformedResultsNameTheFile) {
  TempDir d;
  WriteFile(d / "run/eval/test/results.json", R"({"model": "fas", "dataset": "test", "seed": 1})");
  try {
    fas::CollectRunResults(d.path());
    FAIL() << "expected an error";
  } catch (const fas::DataError& e) {
    EXPECT_NE(std::string(e.what()).find(d / "run/eval/test/results.json"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("'n'"), std::string::npos) << e.what();
  }
  WriteFile(d / "run/eval/test/results.json", "{not json");
  EXPECT_THROW(fas::CollectRunResults(d.path()), fas::DataError);
  EXPECT_THROW(fas::CollectRunResults(d / "missing"), fas::IoError);
}

TEST(TablesInput, PaperColumnsAndZeroShotSets) {
  EXPECT_EQ(fas::PaperColumn("conflict"), "case");
  EXPECT_EQ(fas::PaperColumn("MELD"), "meld");
  EXPECT_EQ(fas::PaperColumn("test"), "");
  EXPECT_TRUE(fas::IsZeroShot("case"));
  EXPECT_TRUE(fas::IsZeroShot("conflict"));
  EXPECT_FALSE(fas::IsZeroShot("test"));
  const auto pub = Published();
  EXPECT_DOUBLE_EQ(pub.Main("FAS", "ravdess", "f1").value_or(0), 76.19);
  EXPECT_DOUBLE_EQ(pub.ZeroShot("fas", "emodb").value_or(0), 68.10);
  EXPECT_TRUE(pub.Unsure("ablation", "fas_random_select"));
  EXPECT_FALSE(pub.Unsure("ablation", "concat"));
  EXPECT_FALSE(pub.Main("fas", "test", "acc").has_value());
}

TEST(MainTable, AveragesAndBothF1sBesideThePapers) {
  TempDir d;
  WriteRun(d / "fas/seed1", "fas", "fas", 1, {{"meld", {0.50, 0.40}}, {"esd", {0.70, 0.60}}});
  WriteRun(d / "fas/seed2", "fas", "fas", 2, {{"meld", {0.60, 0.40}}, {"esd", {0.80, 0.60}}});
  const auto tables = fas::BuildPaperTables(fas::CollectRunResults(d.path()), Published());
  const fas::Table* main = Find(tables, "main");
  ASSERT_NE(main, nullptr);
  const auto avg = Cell(*main, "fas", "in-domain avg ACC");
  EXPECT_NEAR(avg.stats.mean, 65.0, 1e-9) << "runs average 60 and 70";
  EXPECT_NEAR(avg.stats.std, 7.0710678, 1e-6);
  EXPECT_DOUBLE_EQ(Cell(*main, "fas", "paper in-domain avg ACC").number, 71.92);
  EXPECT_THROW(Cell(*main, "fas", "zero-shot avg ACC"), std::runtime_error) << "no zero-shot set";
  const std::string note =
      "Paper's average ACC: fas zero-shot 54.66 (CASE, Emo-Emilia, EMOVO, EmoDB); fas in-domain 71.92 (MELD, RAVDESS, "
      "ESD).";
  EXPECT_NE(std::find(main->notes.begin(), main->notes.end(), note), main->notes.end());
  // The paper's F1 stands right after our weighted F1.
  std::vector<std::string> headers;
  for (const auto& c : main->columns) headers.push_back(c.header);
  const auto weighted = std::find(headers.begin(), headers.end(), "MELD weighted F1");
  ASSERT_NE(weighted, headers.end());
  EXPECT_EQ(*(weighted - 1), "MELD macro-F1");
  EXPECT_EQ(*(weighted + 1), "paper MELD F1");
  EXPECT_DOUBLE_EQ(Cell(*main, "fas", "paper MELD F1").number, 48.42);
}

}  // namespace

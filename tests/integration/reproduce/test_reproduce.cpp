// `fas reproduce` end to end on the tiny corpus: a two-model, two-seed suite interrupted after its first cell
// (--max-cells 1), resumed without training that cell again, and rendered with mean ± std and the paper's column;
// a suite whose settings changed since its cells were trained refused; missing inputs reported all at once before
// anything trains; `fas tables` on the same folder.
#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>

#include "support/test_support.h"

namespace fs = std::filesystem;

namespace {

using fas::testing::ReadFile;
using fas::testing::RunFas;
using fas::testing::SourceDir;
using fas::testing::TempDir;

std::string TinyCorpus() {
  const char* dir = std::getenv("FAS_TINY_CORPUS");
  return dir != nullptr ? dir : "";
}

std::string Suite() { return SourceDir() + "/configs/suites/tiny.yaml"; }

int CountResults(const std::string& dir) {
  int n = 0;
  if (!fs::exists(dir)) return 0;
  for (const auto& e : fs::recursive_directory_iterator(dir)) n += e.path().filename() == "results.json";
  return n;
}

// The line of a Markdown table whose first cell is `row`.
std::string Row(const std::string& md, const std::string& row) {
  const auto at = md.find("| " + row + " ");
  if (at == std::string::npos) return "";
  return md.substr(at, md.find('\n', at) - at);
}

TEST(Reproduce, InterruptedSuiteResumesAndRendersMeanStdBesideThePaper) {
  ASSERT_FALSE(TinyCorpus().empty()) << "FAS_TINY_CORPUS is not set: run through ctest";
  TempDir d;
  const std::string runs = d / "runs";
  const std::vector<std::string> args = {"reproduce", Suite(), "--runs-dir", runs, "--set", "data.root=" + TinyCorpus(),
                                         "--no-plots"};

  auto first_args = args;
  first_args.insert(first_args.end(), {"--max-cells", "1"});
  const auto first = RunFas(first_args);
  ASSERT_EQ(first.exit_code, 0) << first.out << first.err;
  EXPECT_NE(first.out.find("4 cells"), std::string::npos) << first.out;
  EXPECT_NE(first.out.find("stopping after 1 cell"), std::string::npos) << first.out;
  // One cell, two evaluation sets.
  EXPECT_EQ(CountResults(runs), 2);
  const std::string cell = runs + "/semantic_only/seed1";
  ASSERT_TRUE(fs::exists(cell + "/eval/conflict/results.json")) << first.out;
  const auto stamp = fs::last_write_time(cell + "/eval/conflict/results.json");
  const std::string log = ReadFile(cell + "/train.log");

  const auto second = RunFas(args);
  ASSERT_EQ(second.exit_code, 0) << second.out << second.err;
  EXPECT_NE(second.out.find("1 finished"), std::string::npos) << second.out;
  EXPECT_NE(second.out.find("trained 3 cell(s)"), std::string::npos) << second.out;
  EXPECT_EQ(CountResults(runs), 8);
  // The finished cell was not trained again.
  EXPECT_EQ(fs::last_write_time(cell + "/eval/conflict/results.json"), stamp);
  EXPECT_EQ(ReadFile(cell + "/train.log"), log);

  const std::string main = ReadFile(runs + "/tables/main.md");
  ASSERT_FALSE(main.empty()) << second.out;
  EXPECT_NE(main.find("paper CASE ACC"), std::string::npos) << main;
  const std::string fas_row = Row(main, "fas");
  const std::string sem_row = Row(main, "semantic_only");
  ASSERT_FALSE(fas_row.empty()) << main;
  ASSERT_FALSE(sem_row.empty()) << main;
  EXPECT_NE(fas_row.find("59.38"), std::string::npos) << fas_row;  // the published CASE accuracy of FAS
  EXPECT_NE(fas_row.find("55.08"), std::string::npos) << fas_row;  // ... and F1
  // ACC, macro-F1 and weighted F1 on conflict and on test: every one a mean ± std over the two seeds.
  for (const auto* row : {&fas_row, &sem_row}) {
    size_t count = 0;
    for (size_t at = row->find("±"); at != std::string::npos; at = row->find("±", at + 1)) ++count;
    EXPECT_EQ(count, 6u) << *row;
  }
  EXPECT_NE(main.find("mean ± standard deviation over seeds (up to 2)"), std::string::npos) << main;
  // The table printed on the terminal is the one written.
  EXPECT_NE(second.out.find(fas_row), std::string::npos) << second.out;
  EXPECT_TRUE(fs::exists(runs + "/tables/conflict.md"));
  EXPECT_TRUE(fs::exists(runs + "/tables/comparisons.md")) << "fas against semantic_only, from the predictions";
  EXPECT_TRUE(fs::exists(runs + "/tables/main.tex"));

  // A third run has nothing left to do.
  const auto third = RunFas(args);
  ASSERT_EQ(third.exit_code, 0) << third.err;
  EXPECT_NE(third.out.find("trained 0 cell(s)"), std::string::npos) << third.out;

  // Changed settings: a run trained with the old ones does not stand for its cell; nothing trains, one line says
  // which cell and what changed.
  auto changed = args;
  changed.insert(changed.end(), {"--set", "data.dev=test.jsonl"});
  const auto refused = RunFas(changed);
  EXPECT_EQ(refused.exit_code, 1) << refused.out;
  EXPECT_NE(refused.err.find("settings changed"), std::string::npos) << refused.err;
  EXPECT_NE(refused.err.find("dev: test.jsonl"), std::string::npos) << refused.err;
  EXPECT_EQ(ReadFile(cell + "/train.log"), log);

  // `fas tables` rebuilds the tables from the folders alone.
  const auto tables = RunFas({"tables", "--runs", runs, "--format", "csv", "--out", d / "csv", "--no-plots"});
  ASSERT_EQ(tables.exit_code, 0) << tables.err;
  const std::string csv = ReadFile(d / "csv/main.csv");
  EXPECT_NE(csv.find("main,fas,paper CASE ACC,paper,59.38"), std::string::npos) << csv;
  EXPECT_NE(csv.find("main,semantic_only,conflict ACC,ours,"), std::string::npos) << csv;
}

TEST(Reproduce, MissingInputsAreReportedTogetherBeforeTraining) {
  ASSERT_FALSE(TinyCorpus().empty());
  TempDir d;
  // A copy of the corpus without its dev manifest, and a model that wants pretrained weights that are not there.
  fs::create_directories(d / "corpus");
  for (const auto& e : fs::directory_iterator(TinyCorpus())) {
    const std::string name = e.path().filename().string();
    if (e.is_directory()) {
      fs::create_directory_symlink(e.path(), d / ("corpus/" + name));  // the audio
    } else if (name == "train.jsonl" || name == "test.jsonl") {
      fs::copy_file(e.path(), d / ("corpus/" + name));
    }
  }
  fas::testing::WriteFile(d / "suite.yaml",
                          "name: broken\n"
                          "data: {root: " + d / "corpus" + ", hint: 'run fas synth'}\n"
                          "eval: [{name: test, manifest: test.jsonl}]\n"
                          "seeds: [1]\n"
                          "models:\n"
                          "  - {name: fas, config: [" + SourceDir() + "/configs/models/fas.yaml],\n"
                          "     set: [model.acoustic.encoder.weights=" + d / "nope.safetensors" + "]}\n");
  const auto r = RunFas({"reproduce", d / "suite.yaml", "--runs-dir", d / "runs"});
  EXPECT_EQ(r.exit_code, 1) << r.out << r.err;
  // Both problems in one message: the dev manifest (with the suite's hint) and the weights (with the key).
  EXPECT_NE(r.err.find(d / "corpus/dev.jsonl"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("run fas synth"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("model.acoustic.encoder.weights"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find(d / "nope.safetensors"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("(models fas; configs "), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("2 input(s) missing"), std::string::npos) << r.err;
  EXPECT_FALSE(fs::exists(d / "runs/fas/seed1/config.yaml"));  // nothing trained

  const auto no_root = RunFas({"reproduce", Suite(), "--runs-dir", d / "runs", "--set", "data.root=" + d / "none"});
  EXPECT_EQ(no_root.exit_code, 1);
  EXPECT_NE(no_root.err.find(d / "none"), std::string::npos) << no_root.err;
  EXPECT_NE(no_root.err.find("fas synth --config configs/data/synth.yaml --set size=tiny"), std::string::npos)
      << no_root.err;
}

// The paper suite on a machine without its corpora and checkpoints: --check lists the whole matrix (every row with
// the encoders it reads) and then every missing input once, each naming only the rows that read it.
TEST(Reproduce, CheckListsThePaperMatrixAndWhatEachRowLacks) {
  TempDir d;
  const auto r = RunFas({"reproduce", SourceDir() + "/configs/suites/paper.yaml", "--runs-dir", d / "runs",
                         "--set", "data.root=" + d / "corpus", "--check"});
  EXPECT_EQ(r.exit_code, 1) << r.out << r.err;
  for (const char* row : {"whisper ", "wavlm ", "emotion2vec ", "hubert ", "concat ", "gated ", "fas ",
                          "fas_wavlm ", "fas@k_aco4-k_sem8 ", "fas@num_queries8 "}) {
    EXPECT_NE(r.out.find(std::string("  ") + row), std::string::npos) << row << "\n" << r.out;
  }
  EXPECT_NE(r.out.find("mingtok_audio + whisper"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("wavlm + whisper"), std::string::npos) << r.out;
  // WavLM's files are wanted by the two rows that read WavLM, not by the Whisper-only or MingTok-Audio rows.
  EXPECT_NE(r.err.find("'pretrained/wavlm-base-plus/model.safetensors' does not exist (models wavlm, fas_wavlm;"),
            std::string::npos) << r.err;
  EXPECT_NE(r.err.find("'pretrained/MingTok-Audio/model.safetensors' does not exist (models concat, gated"),
            std::string::npos) << r.err;
  EXPECT_NE(r.err.find("'pretrained/emotion2vec_base/model.safetensors' does not exist (models emotion2vec;"),
            std::string::npos) << r.err;
}

}  // namespace

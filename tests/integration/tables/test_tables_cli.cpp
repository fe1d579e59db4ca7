// `fas tables` on a generated folder of runs whose predictions are known: the comparisons a suite file names, the
// ones --compare names, the default ones, and one line for a bad pair.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "support/test_support.h"

namespace {

using fas::testing::ReadFile;
using fas::testing::RunFas;
using fas::testing::TempDir;
using fas::testing::WriteFile;

// RUNS/MODEL/seedK as training leaves it (run.json, eval/test/results.json and predictions.jsonl): 40 utterances
// of two classes, the first `right` predicted correctly under this seed.
void WriteRun(const std::string& runs, const std::string& model, int seed, int right) {
  const std::string dir = runs + "/" + model + "/seed" + std::to_string(seed);
  const nlohmann::json info = {{"format", 1},
                               {"task", "ser"},
                               {"name", model},
                               {"seed", seed},
                               {"model", {{"head", model}}},
                               {"labels", {"happy", "sad"}}};
  WriteFile(dir + "/run.json", info.dump());
  std::string lines;
  for (int i = 0; i < 40; ++i) {
    const std::string label = i % 2 ? "sad" : "happy", other = i % 2 ? "happy" : "sad";
    lines += nlohmann::json({{"id", "u" + std::to_string(i)}, {"label", label}, {"pred", i < right ? label : other}})
                 .dump() +
             "\n";
  }
  WriteFile(dir + "/eval/test/predictions.jsonl", lines);
  const double acc = right / 40.0;
  WriteFile(dir + "/eval/test/results.json", nlohmann::json({{"model", model},
                                                             {"dataset", "test"},
                                                             {"seed", seed},
                                                             {"n", 40},
                                                             {"acc", acc},
                                                             {"ua", acc},
                                                             {"macro_f1", acc},
                                                             {"weighted_f1", acc}})
                                                 .dump());
}

class TablesCli : public ::testing::Test {
 protected:
  void SetUp() override {
    for (int seed : {1, 2}) {
      WriteRun(d / "runs", "fas", seed, 38);
      WriteRun(d / "runs", "fas+cf", seed, 40);
      WriteRun(d / "runs", "concat", seed, 20);
    }
    WriteFile(d / "suite.yaml",
              "name: tiny\nmodels:\n  - {name: concat, config: [concat.yaml]}\n  - {name: fas, config: [fas.yaml]}\n"
              "  - {name: fas+cf, config: [fas.yaml]}\ncomparisons: [[fas+cf, fas], [fas+cf, concat]]\n");
  }

  fas::testing::CommandResult Tables(std::vector<std::string> extra) {
    std::vector<std::string> args = {"tables",     "--runs",   d / "runs", "--out",   d / "out",
                                     "--no-plots", "--format", "md,csv",   "--print", "comparisons"};
    args.insert(args.end(), extra.begin(), extra.end());
    return RunFas(args);
  }
  TempDir d;
};

TEST_F(TablesCli, TheSuitesComparisonsWithHolmAndMarks) {
  const auto r = Tables({"--suite", d / "suite.yaml"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const std::string csv = ReadFile(d / "out/comparisons.csv");
  // fas+cf against fas: 2 + 2 discordant pairs, p = 2 * 2^-4 = 0.125, Holm 0.125 (the larger of two); against
  // concat: 40 pairs, p = 2^-39, significant.
  EXPECT_NE(csv.find("comparisons,test,A+B- / A-B+,text,4 / 0,,,0,\n"), std::string::npos) << csv;
  EXPECT_NE(csv.find("comparisons,test,p (Holm),p,0.125,,,0,\n"), std::string::npos) << csv;
  EXPECT_NE(csv.find("comparisons,test,A+B- / A-B+,text,40 / 0,,,0,\n"), std::string::npos) << csv;
  EXPECT_NE(csv.find(",0,*\n"), std::string::npos) << csv;
  EXPECT_NE(r.out.find("| test | fas+cf |    fas |"), std::string::npos) << r.out;
  const std::string main = ReadFile(d / "out/main.md");
  EXPECT_NE(main.find(" 50.00 ± 0.00† |"), std::string::npos) << "concat differs from the reference, fas+cf:\n" << main;
  EXPECT_NE(main.find("differs from fas+cf's"), std::string::npos) << main;
}

TEST_F(TablesCli, CompareWinsOverTheSuiteAndTheDefaultIsEveryModelAgainstFas) {
  const auto chosen = Tables({"--suite", d / "suite.yaml", "--compare", "concat,fas"});
  ASSERT_EQ(chosen.exit_code, 0) << chosen.err;
  const std::string csv = ReadFile(d / "out/comparisons.csv");
  EXPECT_NE(csv.find("comparisons,test,A,text,concat,,,0,\n"), std::string::npos) << csv;
  EXPECT_EQ(csv.find("fas+cf"), std::string::npos) << csv;

  const auto plain = Tables({});
  ASSERT_EQ(plain.exit_code, 0) << plain.err;
  const std::string all = ReadFile(d / "out/comparisons.csv");
  EXPECT_NE(all.find("comparisons,test,B,text,concat,"), std::string::npos) << all;
  EXPECT_NE(all.find("comparisons,test,B,text,fas+cf,"), std::string::npos) << all;
  EXPECT_EQ(all.find("comparisons,test,A,text,concat,"), std::string::npos) << "fas is A: " << all;
}

TEST_F(TablesCli, ABadPairIsOneLine) {
  const auto one = Tables({"--compare", "fas"});
  EXPECT_EQ(one.exit_code, 1);
  EXPECT_NE(one.err.find("--compare 'fas': give two model names, A,B"), std::string::npos) << one.err;
  WriteFile(d / "bad.yaml", "name: bad\nmodels:\n  - {name: fas, config: [fas.yaml]}\ncomparisons: [[fas, gated]]\n");
  const auto unknown = Tables({"--suite", d / "bad.yaml"});
  EXPECT_EQ(unknown.exit_code, 1);
  EXPECT_NE(unknown.err.find("comparisons[0]: 'gated' is not one of the suite's models"), std::string::npos)
      << unknown.err;
}

}  // namespace

// What the paper fixes: its column and row order, its spelling of the corpora, where its numbers and the plotting
// script are found.
#include <gtest/gtest.h>
#include <stdlib.h>

#include "fas/eval/paper.h"
#include "fas/eval/plots.h"
#include "support/test_support.h"

namespace {

TEST(Paper, DatasetsZeroShotFirstThenInDomainThenUnknown) {
  std::vector<std::string> d = {"zzz", "test", "meld", "conflict", "case", "aaa"};
  fas::SortDatasets(d);
  const std::vector<std::string> expected = {"case", "conflict", "meld", "test", "aaa", "zzz"};
  EXPECT_EQ(d, expected);
}

TEST(Paper, ModelsUnknownFirstThenThePaperOrderFasLast) {
  std::vector<std::string> m = {"fas", "zeta", "concat", "acoustic_only", "alpha"};
  fas::SortModels(m);
  const std::vector<std::string> expected = {"alpha", "zeta", "acoustic_only", "concat", "fas"};
  EXPECT_EQ(m, expected);
}

TEST(Paper, SpellingOfTheCorpora) {
  EXPECT_EQ(fas::DisplayDataset("emodb"), "EmoDB");
  EXPECT_EQ(fas::DisplayDataset("EMO-EMILIA"), "Emo-Emilia");
  EXPECT_EQ(fas::DisplayDataset("test"), "test");
}

TEST(Paper, PublishedNumbersFromTheConfigDirFirst) {
  fas::testing::TempDir d;
  fas::testing::WriteFile(d / "paper/published.yaml", "queries:\n  case_acc:\n    4: 61.5\n");
  ::setenv("FAS_CONFIG_DIR", d.path().c_str(), 1);
  const std::string found = fas::FindPublishedNumbers();
  ::unsetenv("FAS_CONFIG_DIR");
  EXPECT_EQ(found, d / "paper/published.yaml");
  EXPECT_DOUBLE_EQ(fas::PublishedNumbers::Load(found).QueriesCaseAcc(4).value_or(0), 61.5);
  EXPECT_EQ(fas::FindPublishedNumbers(), "configs/paper/published.yaml") << "tests run in the source tree";
}

TEST(Plots, TheScriptIsFoundInTheSourceTree) { EXPECT_EQ(fas::FindPlotScript(), "scripts/plot.py"); }

}  // namespace

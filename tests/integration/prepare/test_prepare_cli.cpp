// `fas prepare` as a user runs it: exit codes, the printed summary, the manifest, one-line errors.
#include <gtest/gtest.h>

#include <algorithm>

#include "fake_trees.h"
#include "fas/data/manifest.h"
#include "support/test_support.h"

using fas::testing::RunFas;
using fas::testing::TempDir;

TEST(PrepareCli, IemocapWithMergeExcited) {
  TempDir d;
  const auto root = fas::testing::BuildIemocap(d.path());
  const auto r = RunFas({"prepare", "iemocap", "--root", root, "--out", d / "out/iemocap.jsonl", "--merge-excited"},
                        fas::testing::SourceDir());
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("iemocap: 6 utterances"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("exc->happy 1"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("dropped 2 (fru 1, xxx 1)"), std::string::npos) << r.out;
  const auto m = fas::ReadManifest(d / "out/iemocap.jsonl");
  ASSERT_EQ(m.utterances.size(), 6u);
  EXPECT_EQ(m.utterances[0].corpus, "iemocap");
  EXPECT_EQ(m.utterances[0].extra["original_label"], "neu");
}

TEST(PrepareCli, EmisWritesTextLabelsAndConflicts) {
  TempDir d;
  const auto root = fas::testing::BuildEmis(d.path());
  const auto r = RunFas({"prepare", "emis", "--root", root, "--out", d / "emis.jsonl"}, fas::testing::SourceDir());
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const std::string text = fas::testing::ReadFile(d / "emis.jsonl");
  EXPECT_NE(text.find("\"text_label\":\"happy\""), std::string::npos) << text;
  EXPECT_NE(text.find("\"conflict\":true"), std::string::npos) << text;
}

TEST(PrepareCli, WrongTreeIsOneErrorLine) {
  TempDir d;
  fas::testing::WriteFile(d / "empty/readme.txt", "nothing");
  for (const auto& args : std::vector<std::vector<std::string>>{
           {"prepare", "ravdess", "--root", d / "empty", "--out", d / "x.jsonl"},
           {"prepare", "timit", "--root", d / "empty", "--out", d / "x.jsonl"},
           {"prepare", "ravdess", "--root", d / "missing", "--out", d / "x.jsonl"},
           {"prepare", "ravdess", "--root", d / "empty", "--out", d / "x.jsonl", "--split", "bad:name"}}) {
    const auto r = RunFas(args, fas::testing::SourceDir());
    EXPECT_EQ(r.exit_code, 1) << args[1] << ": " << r.err;
    EXPECT_EQ(r.err.rfind("error: ", 0), 0u) << r.err;
    EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
  }
  const auto r = RunFas({"prepare", "ravdess", "--root", d / "empty", "--out", d / "x.jsonl"});
  EXPECT_NE(r.err.find("Actor_01"), std::string::npos) << r.err;
}

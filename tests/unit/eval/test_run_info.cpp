// RUN/run.json: written atomically and read back whole, a malformed or newer file refused with the file and field
// named, and the same facts from config.yaml for runs older than run.json.
#include <gtest/gtest.h>

#include <filesystem>
#include <string>

#include "fas/core/error.h"
#include "fas/eval/run_info.h"
#include "support/test_support.h"

namespace {

using fas::testing::ReadFile;
using fas::testing::TempDir;
using fas::testing::WriteFile;

fas::RunInfo Example() {
  fas::RunInfo info;
  info.fas_version = "0.9.0";
  info.task = "ser";
  info.name = "fas@k_aco4";
  info.seed = 42;
  info.head = "fas";
  info.acoustic = "wav2vec2";
  info.semantic = "text";
  info.fusion = {{"k_aco", 4}, {"k_sem", 16}, {"dropout", 0.4}};
  info.labels = {"neutral", "happy", "sad"};
  return info;
}

// The message of the DataError ReadRunInfo throws for `dir`.
std::string ReadError(const std::string& dir) {
  try {
    fas::ReadRunInfo(dir);
  } catch (const fas::DataError& e) {
    return e.what();
  }
  return "no error";
}

TEST(RunInfo, WrittenAndReadBack) {
  TempDir d;
  fas::WriteRunInfo(d / "run.json", Example());
  const auto info = fas::ReadRunInfo(d.path());
  ASSERT_TRUE(info.has_value());
  EXPECT_EQ(info->format, 1);
  EXPECT_EQ(info->fas_version, "0.9.0");
  EXPECT_EQ(info->task, "ser");
  EXPECT_EQ(info->name, "fas@k_aco4");
  EXPECT_EQ(info->seed, 42u);
  EXPECT_EQ(info->head, "fas");
  EXPECT_EQ(info->acoustic, "wav2vec2");
  EXPECT_EQ(info->semantic, "text");
  EXPECT_EQ(info->fusion, Example().fusion);
  EXPECT_EQ(info->labels, Example().labels);
  const std::string text = ReadFile(d / "run.json");
  EXPECT_NE(text.find("\"k_aco\": 4,"), std::string::npos) << "integral settings as integers: " << text;
  EXPECT_NE(text.find("\"dropout\": 0.4"), std::string::npos) << text;
  EXPECT_NE(text.find("\"fas\": \"0.9.0\""), std::string::npos) << text;
  // Atomic: nothing but the file itself is left in the folder.
  EXPECT_EQ(std::distance(std::filesystem::directory_iterator(d.path()), std::filesystem::directory_iterator()), 1);
}

TEST(RunInfo, NoneWithoutTheFile) {
  TempDir d;
  EXPECT_FALSE(fas::ReadRunInfo(d.path()).has_value());
  EXPECT_FALSE(fas::LoadRunInfo(d.path()).has_value());
}

TEST(RunInfo, MalformedFilesNameTheFileAndField) {
  TempDir d;
  const std::string path = d / "run.json";
  WriteFile(path, "{not json");
  EXPECT_NE(ReadError(d.path()).find(path + ": not valid JSON"), std::string::npos) << ReadError(d.path());

  const std::string good = R"("format": 1, "task": "ser", "name": "fas", "seed": 1)";
  const std::vector<std::pair<std::string, std::string>> cases = {
      {R"({"format": 1, "task": "ser", "name": "fas", "seed": "one", "model": {"head": "fas"}})", "'seed'"},
      {"{" + good + R"(, "model": {}})", "'model.head'"},
      {"{" + good + R"(, "model": {"head": "fas", "fusion": {"k_aco": "eight"}}})", "'model.fusion.k_aco'"},
      {"{" + good + R"(, "model": {"head": "fas"}, "labels": "happy"})", "'labels'"},
      {"{" + good + "}", "'model'"},
      {R"({"format": 1, "task": "tts", "name": "x", "seed": 1, "model": {"head": "fas"}})", "'task'"},
      {R"({"format": 1, "task": "ser", "name": "x", "seed": -1, "model": {"head": "fas"}})", "'seed'"},
  };
  for (const auto& [content, field] : cases) {
    WriteFile(path, content);
    const std::string what = ReadError(d.path());
    EXPECT_NE(what.find(path), std::string::npos) << content << " -> " << what;
    EXPECT_NE(what.find(field), std::string::npos) << content << " -> " << what;
  }
}

TEST(RunInfo, ANewerFormatIsRefused) {
  TempDir d;
  fas::RunInfo info = Example();
  info.format = 2;
  fas::WriteRunInfo(d / "run.json", info);
  const std::string what = ReadError(d.path());
  EXPECT_NE(what.find("format 2"), std::string::npos) << what;
  EXPECT_EQ(what.find('\n'), std::string::npos) << "one line: " << what;
}

TEST(RunInfo, OlderRunsFromTheirConfig) {
  TempDir d;
  WriteFile(d / "config.yaml",
            "name: gated\nseed: 7\nmodel:\n  head: gated\n  fusion:\n    k_aco: 8\n    dropout: 0.4\n"
            "    pooling: flatten\n  acoustic:\n    encoder:\n      type: hubert\n  semantic:\n    type: whisper\n");
  const fas::RunInfo info = fas::RunInfoFromConfigYaml(d / "config.yaml");
  EXPECT_EQ(info.task, "ser");
  EXPECT_EQ(info.name, "gated");
  EXPECT_EQ(info.seed, 7u);
  EXPECT_EQ(info.head, "gated");
  EXPECT_EQ(info.acoustic, "hubert");
  EXPECT_EQ(info.semantic, "whisper");
  const std::map<std::string, double> numeric = {{"k_aco", 8}, {"dropout", 0.4}};
  EXPECT_EQ(info.fusion, numeric) << "pooling is not a number";
  EXPECT_TRUE(info.labels.empty());

  const auto loaded = fas::LoadRunInfo(d.path());
  ASSERT_TRUE(loaded.has_value());
  EXPECT_EQ(loaded->name, "gated");
  // run.json, once there, is what counts.
  fas::WriteRunInfo(d / "run.json", Example());
  EXPECT_EQ(fas::LoadRunInfo(d.path())->name, "fas@k_aco4");

  WriteFile(d / "bad.yaml", "seed: soon\n");
  EXPECT_THROW(fas::RunInfoFromConfigYaml(d / "bad.yaml"), fas::DataError);
}

}  // namespace

// The task registry: `task:` picks the config struct and the task the engine runs.
#include <gtest/gtest.h>

#include "fas/core/error.h"
#include "fas/tasks/registry.h"
#include "support/test_support.h"

using fas::testing::SourceDir;

namespace {

TEST(TaskRegistry, TaskKeyPicksTheTask) {
  EXPECT_EQ(fas::TaskNames(), (std::vector<std::string>{"ser", "asr"}));
  const auto ser = fas::LoadTask({SourceDir() + "/configs/models/fas.yaml"}, {});
  EXPECT_EQ(ser->kind(), "ser");
  EXPECT_EQ(ser->train_config().best_metric, "ua");
  const auto asr = fas::LoadTask({SourceDir() + "/configs/asr/ctc_small.yaml"}, {});
  EXPECT_EQ(asr->kind(), "asr");
  EXPECT_EQ(asr->train_config().best_metric, "wer");
  // The resolved config binds again to the same task.
  EXPECT_NE(asr->ResolvedConfig().find("task: asr"), std::string::npos);
}

TEST(TaskRegistry, UnknownTaskNamesTheKnownOnes) {
  try {
    fas::LoadTask({SourceDir() + "/configs/models/fas.yaml"}, {"task=diarisation"});
    FAIL() << "expected a ConfigError";
  } catch (const fas::ConfigError& e) {
    EXPECT_NE(std::string(e.what()).find("'diarisation'"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("known: ser, asr"), std::string::npos) << e.what();
  }
}

}  // namespace

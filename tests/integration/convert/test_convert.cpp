// The real `fas convert emotion2vec` on the committed published-format fixtures (tests/fixtures/emotion2vec).
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>

#include "fas/io/safetensors.h"
#include "support/test_support.h"

namespace {

using fas::testing::RunFas;
using fas::testing::SourceDir;
using fas::testing::TempDir;

std::string Fixture(const std::string& file) { return SourceDir() + "/tests/fixtures/emotion2vec/" + file; }

TEST(Convert, Emotion2VecWritesConfigAndWeights) {
  TempDir d;
  const auto r = RunFas(
      {"convert", "emotion2vec", Fixture("e2v_plus/model.pt"), Fixture("e2v_plus/config.yaml"), "--out", d / "e2v"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(fas::testing::ReadFile(d / "e2v/config.json").find("\"model_type\": \"emotion2vec\""), std::string::npos);
  fas::SafeTensorsFile weights(d / "e2v/model.safetensors");
  EXPECT_EQ(weights.tensors().size(), 68u);  // 70 published, less the classifier's weight and bias
  EXPECT_TRUE(weights.Contains("modality_encoders.AUDIO.alibi_scale"));
  EXPECT_FALSE(weights.Contains("proj.weight"));
}

TEST(Convert, AHostileCheckpointIsOneLineAndNothingRuns) {
  TempDir d;
  std::filesystem::remove("/tmp/fas-emotion2vec-hostile");
  const auto r =
      RunFas({"convert", "emotion2vec", Fixture("hostile.pt"), Fixture("e2v_base/config.yaml"), "--out", d / "e2v"});
  EXPECT_EQ(r.exit_code, 1) << r.err;
  EXPECT_EQ(r.err.rfind("error: ", 0), 0u) << r.err;
  EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
  EXPECT_NE(r.err.find("refused global 'posix.system'"), std::string::npos) << r.err;
  EXPECT_FALSE(std::filesystem::exists("/tmp/fas-emotion2vec-hostile"));
  EXPECT_FALSE(std::filesystem::exists(d / "e2v/model.safetensors"));
}

}  // namespace

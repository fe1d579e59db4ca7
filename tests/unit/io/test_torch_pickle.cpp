// ReadTorchStateDict on what torch.save writes (tests/fixtures/emotion2vec, made by
// scripts/fixtures/make_emotion2vec_fixtures.py) and on what it must refuse.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "fas/core/error.h"
#include "fas/io/torch_pickle.h"
#include "support/test_support.h"

namespace {

using fas::testing::SourceDir;
using fas::testing::TempDir;

std::string Fixture(const std::string& file) { return SourceDir() + "/tests/fixtures/emotion2vec/" + file; }

std::string RefusalOf(const std::string& path) {
  try {
    fas::ReadTorchStateDict(path);
  } catch (const fas::IoError& e) {
    return e.what();
  }
  return "accepted";
}

// model.state_dict() is an OrderedDict with _metadata; the state dict is found under "model" or "state_dict".
TEST(TorchPickle, ReadsTheStateDictsTorchSaveWrites) {
  const auto base = fas::ReadTorchStateDict(Fixture("e2v_base/model.pt"));
  ASSERT_EQ(base.size(), 77u);
  EXPECT_EQ(base[0].first, "modality_encoders.AUDIO.extra_tokens");
  EXPECT_EQ(base[0].second.sizes(), (std::vector<int64_t>{1, 3, 16}));
  EXPECT_EQ(base[0].second.scalar_type(), torch::kFloat32);
  const auto plus = fas::ReadTorchStateDict(Fixture("e2v_plus/model.pt"));
  ASSERT_EQ(plus.size(), 70u);
  EXPECT_EQ(plus[0].first, "module.modality_encoders.AUDIO.alibi_scale");
  // The negative ALiBi scale the fixture sets, read back exactly.
  EXPECT_EQ(plus[0].second.view(-1)[0].item<float>(), -0.3f);
}

TEST(TorchPickle, RefusesWhatIsNotAStateDictOfTensors) {
  const std::string marker = "/tmp/fas-emotion2vec-hostile";
  std::filesystem::remove(marker);
  EXPECT_NE(RefusalOf(Fixture("hostile.pt")).find("refused global 'posix.system'"), std::string::npos);
  EXPECT_FALSE(std::filesystem::exists(marker));
  EXPECT_NE(RefusalOf(Fixture("legacy.pt")).find("not a torch.save zip archive"), std::string::npos);
  TempDir dir;
  const std::string whole = fas::testing::ReadFile(Fixture("e2v_base/model.pt"));
  for (const size_t keep : {size_t{0}, whole.size() / 2, whole.size() - 30}) {
    std::ofstream(dir / "cut.pt", std::ios::binary) << whole.substr(0, keep);
    const std::string why = RefusalOf(dir / "cut.pt");
    EXPECT_NE(why, "accepted") << keep;
    EXPECT_EQ(why.find('\n'), std::string::npos) << why;
  }
}

}  // namespace

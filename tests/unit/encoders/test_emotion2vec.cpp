#include <gtest/gtest.h>

#include <filesystem>
#include <functional>

#include "fas/core/error.h"
#include "fas/encoders/emotion2vec.h"
#include "fas/io/safetensors.h"
#include "fas/io/torch_pickle.h"
#include "support/test_support.h"

namespace {

using fas::testing::SourceDir;
using fas::testing::TempDir;
using fas::testing::WriteFile;

std::string Fixture(const std::string& file) { return SourceDir() + "/tests/fixtures/emotion2vec/" + file; }

// The published files of a variant converted into `dir` and loaded from there, as a user runs it.
fas::Emotion2VecEncoder Convert(const std::string& variant, const TempDir& dir, fas::LoadReport* report = nullptr) {
  auto r = fas::ConvertEmotion2Vec(Fixture(variant + "/model.pt"), Fixture(variant + "/config.yaml"), dir.path());
  if (report != nullptr) *report = r;
  auto encoder = fas::CreateEmotion2VecEncoder(dir / "config.json", dir / "model.safetensors", "all");
  encoder->eval();
  return encoder;
}

// Largest |a - b| over the first frame_lengths[i] (+ `extra`) positions of each row.
double MaxAbsValid(const torch::Tensor& a, const torch::Tensor& b, const torch::Tensor& frame_lengths,
                   int64_t extra = 0) {
  double worst = 0;
  for (int64_t i = 0; i < a.size(0); ++i) {
    const int64_t n = frame_lengths[i].item<int64_t>() + extra;
    worst = std::max(worst, (a[i].slice(0, 0, n) - b[i].slice(0, 0, n)).abs().max().item<double>());
  }
  return worst;
}

class Emotion2VecParity : public ::testing::TestWithParam<std::string> {};

// Every layer of a padded batch within 1e-4 of the published code run on each utterance alone.
TEST_P(Emotion2VecParity, EveryLayerMatchesThePublishedCode) {
  TempDir dir;
  fas::LoadReport report;
  auto encoder = Convert(GetParam(), dir, &report);
  EXPECT_FALSE(report.skipped.empty());  // the decoder (base) or the classifier (plus) is not the encoder
  fas::SafeTensorsFile io(Fixture(GetParam() + "/io.safetensors"));
  const auto frames = io.Get("frame_lengths");
  fas::Emotion2VecStages stages;
  torch::NoGradGuard no_grad;
  const auto out = encoder->forward(io.Get("waveform"), io.Get("lengths"), &stages);
  EXPECT_TRUE(torch::equal(out.lengths, frames));
  EXPECT_LT(MaxAbsValid(stages.local_features, io.Get("local_features"), frames), 1e-4);
  EXPECT_LT(MaxAbsValid(stages.projected, io.Get("projected"), frames), 1e-4);
  EXPECT_LT(MaxAbsValid(stages.positions, io.Get("positions"), frames), 1e-4);
  const int64_t extra = encoder->config().num_extra_tokens;
  ASSERT_EQ(static_cast<int64_t>(stages.prenet.size()), encoder->config().prenet_depth);
  for (size_t i = 0; i < stages.prenet.size(); ++i) {
    SCOPED_TRACE("prenet." + std::to_string(i));
    EXPECT_LT(MaxAbsValid(stages.prenet[i], io.Get("prenet." + std::to_string(i)), frames, extra), 1e-4);
  }
  ASSERT_EQ(static_cast<int64_t>(out.hidden_states.size()), encoder->num_layers() + 1);
  for (size_t i = 0; i < out.hidden_states.size(); ++i) {
    SCOPED_TRACE("hidden_states." + std::to_string(i));
    EXPECT_LT(MaxAbsValid(out.hidden_states[i], io.Get("hidden_states." + std::to_string(i)), frames), 1e-4);
  }
}

// An utterance's features do not depend on its batch-mates: each row of the padded batch equals the row alone.
TEST_P(Emotion2VecParity, PaddedBatchEqualsEachUtteranceAlone) {
  TempDir dir;
  auto encoder = Convert(GetParam(), dir);
  fas::SafeTensorsFile io(Fixture(GetParam() + "/io.safetensors"));
  const auto waveform = io.Get("waveform"), lengths = io.Get("lengths");
  torch::NoGradGuard no_grad;
  const auto batch = encoder->forward(waveform, lengths);
  for (int64_t b = 0; b < waveform.size(0); ++b) {
    const int64_t n = lengths[b].item<int64_t>();
    const auto alone = encoder->forward(waveform.slice(0, b, b + 1).narrow(1, 0, n));
    const int64_t frames = alone.lengths[0].item<int64_t>();
    for (size_t i = 0; i < alone.hidden_states.size(); ++i) {
      const auto row = batch.hidden_states[i].slice(0, b, b + 1).narrow(1, 0, frames);
      EXPECT_LT((row - alone.hidden_states[i]).abs().max().item<double>(), 1e-5) << "row " << b << " layer " << i;
    }
  }
}

INSTANTIATE_TEST_SUITE_P(Variants, Emotion2VecParity, ::testing::Values("e2v_base", "e2v_plus"));

// The converted files hold the published tensors unchanged and the published architecture.
TEST(Emotion2VecConvert, RoundTripKeepsTensorsAndConfig) {
  TempDir dir;
  fas::ConvertEmotion2Vec(Fixture("e2v_plus/model.pt"), Fixture("e2v_plus/config.yaml"), dir.path());
  const auto from_yaml = fas::ReadFunAsrEmotion2VecConfig(Fixture("e2v_plus/config.yaml"));
  const auto from_json = fas::ReadEmotion2VecConfig(dir / "config.json");
  EXPECT_EQ(from_json.conv_dim, (std::vector<int64_t>{8, 8, 8}));
  EXPECT_EQ(from_json.conv_kernel, (std::vector<int64_t>{10, 3, 2}));
  EXPECT_EQ(from_json.conv_stride, from_yaml.conv_stride);
  EXPECT_EQ(from_json.embed_dim, 16);
  EXPECT_EQ(from_json.num_extra_tokens, 0);
  EXPECT_TRUE(from_json.learned_alibi_scale_per_layer);
  EXPECT_FALSE(from_json.normalize);
  EXPECT_EQ(from_json.PositionalKernel(), 4);

  fas::SafeTensorsFile converted(dir / "model.safetensors");
  int compared = 0;
  for (const auto& [name, tensor] : fas::ReadTorchStateDict(Fixture("e2v_plus/model.pt"))) {
    const std::string bare = name.substr(std::string("module.").size());
    if (bare.rfind("proj.", 0) == 0) {
      EXPECT_FALSE(converted.Contains(bare));
      continue;
    }
    ASSERT_TRUE(converted.Contains(bare)) << bare;
    EXPECT_TRUE(torch::equal(converted.Get(bare), tensor)) << bare;
    ++compared;
  }
  EXPECT_EQ(compared, static_cast<int>(converted.tensors().size()));
}

TEST(Emotion2VecConvert, PublishedFeatureEncoderSpecParses) {
  fas::Emotion2VecConfig c;
  fas::ParseFeatureEncoderSpec("[(512, 10, 5)] + [(512, 3, 2)] * 4 + [(512,2,2)] + [(512,2,2)]", c);
  EXPECT_EQ(c.conv_dim, std::vector<int64_t>(7, 512));
  EXPECT_EQ(c.conv_kernel, (std::vector<int64_t>{10, 3, 3, 3, 3, 2, 2}));
  EXPECT_EQ(c.conv_stride, (std::vector<int64_t>{5, 2, 2, 2, 2, 2, 2}));
  EXPECT_EQ(c.ReceptiveField(), 400);
  EXPECT_THROW(fas::ParseFeatureEncoderSpec("[(512, 10)]", c), fas::ConfigError);
  EXPECT_THROW(fas::ParseFeatureEncoderSpec("__import__('os')", c), fas::ConfigError);
}

// One line that names the file and the reason; nothing of the hostile pickle runs.
void ExpectRefused(const std::function<void()>& convert, const std::string& needle) {
  try {
    convert();
    ADD_FAILURE() << "accepted";
  } catch (const fas::Error& e) {
    const std::string what = e.what();
    EXPECT_NE(what.find(needle), std::string::npos) << what;
    EXPECT_EQ(what.find('\n'), std::string::npos) << what;
  }
}

TEST(Emotion2VecConvert, RefusesWhatIsNotAPublishedCheckpoint) {
  TempDir dir;
  const std::string yaml = Fixture("e2v_base/config.yaml");
  const std::string marker = "/tmp/fas-emotion2vec-hostile";
  std::filesystem::remove(marker);
  ExpectRefused([&] { fas::ConvertEmotion2Vec(Fixture("hostile.pt"), yaml, dir.path()); },
                "refused global 'posix.system'");
  EXPECT_FALSE(std::filesystem::exists(marker));
  ExpectRefused([&] { fas::ConvertEmotion2Vec(Fixture("legacy.pt"), yaml, dir.path()); },
                "not a torch.save zip archive");
  // The plus checkpoint under the base architecture: the first tensor that does not fit is named.
  ExpectRefused([&] { fas::ConvertEmotion2Vec(Fixture("e2v_plus/model.pt"), yaml, dir.path()); }, "alibi_scale");
  ExpectRefused(
      [&] { fas::ConvertEmotion2Vec(Fixture("e2v_base/model.pt"), Fixture("e2v_base/io.safetensors"), dir.path()); },
      "io.safetensors");
  EXPECT_FALSE(std::filesystem::exists(dir / "model.safetensors"));

  WriteFile(dir / "wavlm.json", R"({"model_type": "wavlm"})");
  ExpectRefused([&] { fas::ReadEmotion2VecConfig(dir / "wavlm.json"); }, "is not emotion2vec");
  WriteFile(dir / "preln.yaml",
            "model_conf:\n  layer_norm_first: true\n  modalities:\n    audio:\n      prenet_depth: 1\n");
  ExpectRefused([&] { fas::ReadFunAsrEmotion2VecConfig(dir / "preln.yaml"); }, "layer_norm_first");
}

TEST(Emotion2VecEncoder, FreezingAndShortInput) {
  TempDir dir;
  auto encoder = Convert("e2v_base", dir);
  for (const auto& p : encoder->parameters()) EXPECT_FALSE(p.requires_grad());
  encoder->SetFreeze("feature_extractor");
  int64_t trainable = 0;
  for (const auto& item : encoder->named_parameters()) {
    const bool front_end = item.key().find("local_encoder.") != std::string::npos;
    EXPECT_EQ(item.value().requires_grad(), !front_end) << item.key();
    trainable += item.value().requires_grad();
  }
  EXPECT_GT(trainable, 0);
  EXPECT_THROW(encoder->SetFreeze("half"), fas::ConfigError);
  EXPECT_THROW(encoder->forward(torch::zeros({1, 10})), fas::DataError);
}

}  // namespace

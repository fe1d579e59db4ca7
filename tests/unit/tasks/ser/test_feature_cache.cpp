// The feature cache of frozen encoders: what it stores, when it computes again, and what a batch reads from it.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include "fas/config/binder.h"
#include "fas/tasks/ser/experiment_config.h"
#include "fas/tasks/ser/feature_cache.h"
#include "fas/tasks/ser/ser_dataset.h"
#include "ser_fixtures.h"
#include "support/test_support.h"

using fas::testing::AcousticOnlyConfig;
using fas::testing::CountFiles;
using fas::testing::TempDir;
using fas::testing::TinyAcousticRun;
using fas::testing::WriteNoiseCorpus;

namespace {

class FeatureCacheTest : public ::testing::Test {
 protected:
  void SetUp() override {
    torch::set_num_threads(1);
    WriteNoiseCorpus(dir_, "train.jsonl", 5);
    std::vector<std::string> sets = TinyAcousticRun(dir_, "train.jsonl");
    sets.push_back("model.acoustic.encoder.freeze=all");
    cfg_ = fas::LoadExperimentConfig({AcousticOnlyConfig()}, sets);
  }
  fas::SerModel Model(uint64_t seed) const {
    torch::manual_seed(seed);
    return fas::BuildModel(cfg_.model, fas::CanonicalLabels());
  }
  fas::SerDataset Data() const {
    return fas::SerDataset(dir_ / "train.jsonl", fas::CanonicalLabels(), fas::SerDatasetOptions{});
  }
  TempDir dir_;
  fas::ExperimentConfig cfg_;
};

TEST_F(FeatureCacheTest, FillsOnceThenReuses) {
  const fas::SerDataset data = Data();
  fas::FeatureCache cache(dir_ / "cache", Model(1), cfg_.data.loader);
  ASSERT_TRUE(cache.enabled());
  EXPECT_TRUE(cache.acoustic());
  EXPECT_FALSE(cache.semantic());  // acoustic_only reads no semantic pathway
  fas::CacheFillStats s = cache.Fill(data);
  EXPECT_EQ(s.computed, 5);
  EXPECT_EQ(s.reused, 0);
  s = cache.Fill(data);
  EXPECT_EQ(s.computed, 0);
  EXPECT_EQ(s.reused, 5);
  EXPECT_EQ(CountFiles(dir_ / "cache"), 5);
}

// Other encoder weights are another cache: a run never reads features another encoder made.
TEST_F(FeatureCacheTest, OtherWeightsComputeAgain) {
  const fas::SerDataset data = Data();
  fas::FeatureCache(dir_ / "cache", Model(1), cfg_.data.loader).Fill(data);
  const fas::CacheFillStats s = fas::FeatureCache(dir_ / "cache", Model(2), cfg_.data.loader).Fill(data);
  EXPECT_EQ(s.computed, 5);
  EXPECT_EQ(CountFiles(dir_ / "cache"), 10);
}

// A batch from the cache is what the encoder gives each utterance alone, padded: the features and their mask.
TEST_F(FeatureCacheTest, BatchesMatchTheEncoderOnEachUtterance) {
  const fas::SerDataset data = Data();
  fas::SerModel model = Model(1);
  fas::FeatureCache cache(dir_ / "cache", model, cfg_.data.loader);
  cache.Fill(data);
  fas::SerInput in;
  cache.Load(data, {3, 0}, in);
  ASSERT_TRUE(in.acoustic_features.defined());
  ASSERT_EQ(in.acoustic_features.size(0), 2);
  torch::NoGradGuard no_grad;
  model->eval();
  for (int64_t k = 0; k < 2; ++k) {
    const int64_t i = k == 0 ? 3 : 0;
    fas::SerInput one;
    const std::vector<float> samples = data.LoadUtterance(i, cfg_.data.loader);
    one.waveform = torch::tensor(samples).unsqueeze(0);
    one.lengths = torch::tensor(std::vector<int64_t>{static_cast<int64_t>(samples.size())});
    const fas::StreamFeatures f = model->EncodeAcoustic(one);
    const int64_t frames = f.states.size(2);
    EXPECT_EQ(in.acoustic_mask[k].sum().item<int64_t>(), frames);
    EXPECT_TRUE(torch::allclose(in.acoustic_features[k].narrow(1, 0, frames), f.states[0], 0, 0)) << i;
  }
  // Utterance 0 is shorter than utterance 3: its padded frames are zero and masked.
  const int64_t valid = in.acoustic_mask[1].sum().item<int64_t>();
  EXPECT_LT(valid, in.acoustic_mask.size(1));
  EXPECT_EQ(in.acoustic_features[1].narrow(1, valid, in.acoustic_mask.size(1) - valid).abs().sum().item<double>(), 0);
}

// What training may read when crops or augmentation change the audio: only a text pathway, never audio.
TEST_F(FeatureCacheTest, TextOnlyDropsAudioPathways) {
  const fas::FeatureCache cache(dir_ / "cache", Model(1), cfg_.data.loader);
  const fas::FeatureCache text = cache.TextOnly();
  EXPECT_FALSE(text.acoustic());
  EXPECT_FALSE(text.enabled());
}

}  // namespace

#include <gtest/gtest.h>
#include <torch/torch.h>

#include <cstdio>
#include <fstream>
#include <nlohmann/json.hpp>
#include <random>
#include <utility>

#include "fas/audio/audio.h"
#include "fas/audio/augment.h"
#include "fas/audio/features.h"
#include "fas/core/error.h"
#include "support/test_support.h"

namespace {

// Fixtures from scripts/fixtures/make_logmel_fixtures.py: transformers 5.25's WhisperFeatureExtractor and its
// audio_utils (mel_filter_bank, spectrogram).
std::string FixtureDir() { return fas::testing::SourceDir() + "/tests/fixtures/audio"; }

nlohmann::json Meta() {
  std::ifstream in(FixtureDir() + "/logmel.json");
  return nlohmann::json::parse(in);
}

torch::Tensor LoadArray(const std::string& name) {
  const auto shape = Meta()["arrays"][name].get<std::vector<int64_t>>();
  int64_t n = 1;
  for (auto s : shape) n *= s;
  std::vector<float> data(static_cast<size_t>(n));
  std::ifstream in(FixtureDir() + "/" + name + ".f32", std::ios::binary);
  in.read(reinterpret_cast<char*>(data.data()), static_cast<std::streamsize>(n * 4));
  EXPECT_TRUE(in.good()) << name;
  return torch::from_blob(data.data(), shape, torch::kFloat32).clone();
}

torch::Tensor Input() {
  auto x = fas::ReadAudio(FixtureDir() + "/logmel_input.wav", {.target_rate = 0});
  return torch::from_blob(x.data(), {static_cast<int64_t>(x.size())}, torch::kFloat32).clone();
}

fas::LogMelConfig CaseConfig(const std::string& name) {
  const auto c = Meta()["cases"][name];
  fas::LogMelConfig cfg;
  cfg.n_fft = c["n_fft"];
  cfg.win_length = c["win_length"];
  cfg.hop_length = c["hop_length"];
  cfg.n_mels = c["n_mels"];
  cfg.f_min = c["f_min"];
  cfg.f_max = c["f_max"];
  cfg.log = c["log"];
  cfg.drop_last_frame = c["drop_last_frame"];
  return cfg;
}

double MaxAbsDiff(const torch::Tensor& a, const torch::Tensor& b) {
  EXPECT_EQ(a.sizes(), b.sizes());
  return (a - b).abs().max().item<double>();
}

TEST(MelFilterbank, MatchesTransformersSlaney) {
  for (const auto& [name, bank] : {std::pair{"fbank_201_80", fas::MelFilterbank(201, 0, 8000, 80, 16000)},
                                   std::pair{"fbank_257_40", fas::MelFilterbank(257, 20, 7600, 40, 16000)}}) {
    const double err = MaxAbsDiff(bank, LoadArray(name));
    std::printf("mel filters %s: max abs error %.3g\n", name, err);
    EXPECT_LT(err, 1e-7) << name;
  }
}

TEST(LogMel, WhisperAndLog10FrontEndsMatchTransformers) {
  const auto x = Input();
  for (const std::string name : {"whisper_80", "whisper_128", "log10_40"}) {
    const auto cfg = CaseConfig(name);
    const auto got = fas::LogMelSpectrogram(x, cfg);
    const auto want = LoadArray(name);
    const double err = MaxAbsDiff(got, want);
    std::printf("log-mel %s: max abs error %.3g\n", name.c_str(), err);
    EXPECT_LE(err, 1e-4) << name;
    EXPECT_EQ(got.size(1), fas::NumLogMelFrames(x.size(0), cfg)) << name;
  }
}

TEST(LogMel, BatchWithLengthsMatchesEachUtteranceAlone) {
  const auto x = Input();
  const auto cfg = CaseConfig("whisper_80");
  const int64_t short_len = 6400;
  auto batch = torch::zeros({2, x.size(0)});
  batch[0] = x;
  batch[1].slice(0, 0, short_len) = x.slice(0, 0, short_len);
  const auto lengths = torch::tensor({x.size(0), short_len});
  const auto out = fas::LogMelSpectrogram(batch, cfg, lengths);
  EXPECT_LE(MaxAbsDiff(out[0], fas::LogMelSpectrogram(x, cfg)), 1e-5);
  // The short one's valid frames (all but the last, which sees padding through the window) agree with it alone.
  const auto alone = fas::LogMelSpectrogram(x.slice(0, 0, short_len), cfg);
  const int64_t frames = alone.size(1) - 1;
  EXPECT_LE(MaxAbsDiff(out[1].slice(1, 0, frames - 1), alone.slice(1, 0, frames - 1)), 1e-5);
}

TEST(LogMel, RejectsBadConfigAndTooShortInput) {
  fas::LogMelConfig cfg;
  cfg.log = "ln";
  EXPECT_THROW(cfg.Validate(), fas::ConfigError);
  cfg = {};
  cfg.win_length = 512;
  EXPECT_THROW(cfg.Validate(), fas::ConfigError);
  EXPECT_THROW(fas::LogMelSpectrogram(torch::zeros({100}), fas::LogMelConfig{}), fas::DataError);
}

TEST(Normalize, MeanVarMatchesWav2Vec2Convention) {
  std::vector<float> x = {1, 2, 3, 4, 10};
  fas::Normalize(x, fas::Normalization::kMeanVar);
  // numpy: (x - x.mean()) / np.sqrt(x.var() + 1e-7), x.var() = 10.0
  const double sd = std::sqrt(10.0 + 1e-7);
  EXPECT_NEAR(x[0], (1 - 4) / sd, 1e-6);
  EXPECT_NEAR(x[4], (10 - 4) / sd, 1e-6);
}

TEST(Normalize, PeakAndRms) {
  std::vector<float> x = {0.1f, -0.2f, 0.05f};
  fas::Normalize(x.data(), x.size(), fas::Normalization::kPeak, 0.9);
  EXPECT_FLOAT_EQ(x[1], -0.9f);
  EXPECT_FLOAT_EQ(x[0], 0.45f);
  std::vector<float> y(1000);
  for (size_t i = 0; i < y.size(); ++i) y[i] = (i % 2 ? 0.3f : -0.3f);
  fas::Normalize(y.data(), y.size(), fas::Normalization::kRms, 0.95, -20.0);
  EXPECT_NEAR(std::fabs(y[0]), 0.1, 1e-6);  // -20 dBFS RMS of a square wave = its level
  std::vector<float> silence(10, 0.0f);
  fas::Normalize(silence, fas::Normalization::kPeak);
  EXPECT_EQ(silence, std::vector<float>(10, 0.0f));
  EXPECT_THROW(fas::ParseNormalization("zscore"), fas::ConfigError);
  EXPECT_EQ(fas::ParseNormalization("mean_var"), fas::Normalization::kMeanVar);
}

TEST(Augment, OffByDefaultAndSeeded) {
  std::vector<float> x(16000);
  for (size_t i = 0; i < x.size(); ++i) x[i] = static_cast<float>(0.5 * std::sin(0.1 * i));
  fas::AugmentConfig cfg;
  std::mt19937_64 rng(1);
  auto y = x;
  fas::Augment(y, 16000, cfg, rng);
  EXPECT_EQ(y, x);

  cfg.enabled = true;
  cfg.gain_prob = cfg.noise_prob = cfg.speed_prob = 1.0;
  cfg.snr_db_min = cfg.snr_db_max = 20.0;
  cfg.gain_db_min = cfg.gain_db_max = 0.0;
  cfg.speeds = {1.1};
  std::mt19937_64 r1(7);
  std::mt19937_64 r2(7);
  auto a = x;
  auto b = x;
  fas::Augment(a, 16000, cfg, r1);
  fas::Augment(b, 16000, cfg, r2);
  EXPECT_EQ(a, b);
  EXPECT_NEAR(static_cast<double>(a.size()), 16000 / 1.1, 2);  // faster = shorter

  // The noise sits at the asked SNR: compare against the same speed change without noise.
  cfg.noise_prob = 0.0;
  std::mt19937_64 r3(7);
  auto clean = x;
  fas::Augment(clean, 16000, cfg, r3);
  ASSERT_EQ(clean.size(), a.size());
  double ps = 0;
  double pn = 0;
  for (size_t i = 0; i < a.size(); ++i) {
    ps += clean[i] * clean[i];
    pn += (a[i] - clean[i]) * (a[i] - clean[i]);
  }
  EXPECT_NEAR(10 * std::log10(ps / pn), 20.0, 0.3);

  cfg.speed_prob = 2.0;
  EXPECT_THROW(cfg.Validate(), fas::ConfigError);
}

}  // namespace

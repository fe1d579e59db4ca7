// MingTok-Audio's encoder against the published code over transformers 5.25's Qwen2Model
// (scripts/fixtures/make_mingtok_fixtures.py): a tiny random model in the published checkpoint layout.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <cstdio>
#include <fstream>
#include <functional>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>

#include "fas/core/error.h"
#include "fas/encoders/mingtok_audio.h"
#include "fas/io/safetensors.h"
#include "support/test_support.h"

namespace {

std::string Fixture(const std::string& name) {
  return fas::testing::SourceDir() + "/tests/fixtures/mingtok_audio/" + name;
}

fas::MingTokAudioConfig FixtureConfig() {
  fas::MingTokAudioConfig c;
  c.hf_config = Fixture("config.json");
  c.weights = Fixture("model.safetensors");
  c.freeze = true;
  return c;
}

fas::MingTokAudioEncoder Load(const fas::MingTokAudioConfig& config = FixtureConfig()) {
  return fas::CreateMingTokAudioEncoder(config);
}

double MaxError(const torch::Tensor& got, const torch::Tensor& expected) {
  EXPECT_EQ(got.sizes(), expected.sizes());
  if (got.sizes() != expected.sizes()) return 1e9;
  return (got - expected).abs().max().item<double>();
}

std::string ErrorOf(const std::function<void()>& load) { return fas::testing::ErrorOf<fas::Error>(load); }

TEST(MingTokAudio, ReadsThePublishedConfig) {
  const fas::MingTokAudioConfig c = fas::ReadMingTokAudioConfig(Fixture("config.json"));
  EXPECT_EQ(c.input_dim, 320);
  EXPECT_EQ(c.hop_size, 320);
  EXPECT_EQ(c.latent_dim, 16);
  EXPECT_EQ(c.hidden_size, 32);
  EXPECT_EQ(c.num_hidden_layers, 3);
  EXPECT_EQ(c.num_attention_heads, 4);
  EXPECT_EQ(c.num_key_value_heads, 2);
  EXPECT_DOUBLE_EQ(c.rope_theta, 500.0);
  EXPECT_FALSE(c.SlidingLayer(1));
  EXPECT_TRUE(c.SlidingLayer(2));
  EXPECT_EQ(c.sliding_window, 4);
}

// The published checkpoint loads as it is: every module tensor from encoder.*, the rest skipped by name.
TEST(MingTokAudio, LoadsThePublishedCheckpointSkippingTheDecoder) {
  fas::MingTokAudioEncoder encoder(fas::ReadMingTokAudioConfig(Fixture("config.json")));
  const fas::LoadReport report = encoder->LoadWeights(Fixture("model.safetensors"));
  EXPECT_EQ(report.loaded.size(), fas::ModuleTensors(*encoder).size());
  int decoder = 0;
  for (const auto& name : report.skipped) decoder += name.rfind("decoder.", 0) == 0;
  EXPECT_EQ(decoder + 3, static_cast<int>(report.skipped.size()));  // + embed_tokens, norm.weight, norm.bias
  EXPECT_GT(decoder, 0);
}

// Every hidden state, the posterior, its mean and std, over the zero-padded batch, within 1e-4 of the reference.
// Without a graph (the plain modules) and under InferenceMode on the CPU (oneDNN's linears).
TEST(MingTokAudio, EveryLayerMatchesThePublishedCode) {
  for (const bool inference : {false, true}) {
    SCOPED_TRACE(inference ? "inference routes" : "plain modules");
    auto encoder = Load();
    const fas::SafeTensorsFile expected(Fixture("expected.safetensors"));
    torch::NoGradGuard no_grad;
    std::optional<c10::InferenceMode> mode;
    if (inference) mode.emplace();
    const fas::MingTokAudioOutput out = encoder->forward(expected.Get("waveform"), expected.Get("lengths"));
    ASSERT_EQ(out.hidden_states.size(), 4u);
    for (size_t i = 0; i < out.hidden_states.size(); ++i) {
      const double err = MaxError(out.hidden_states[i], expected.Get("hidden_states." + std::to_string(i)));
      std::printf("hidden_states.%zu: max abs error %.3g\n", i, err);
      EXPECT_LT(err, 1e-4) << i;
    }
    EXPECT_LT(MaxError(out.posterior, expected.Get("posterior")), 1e-4);
    EXPECT_LT(MaxError(out.mean, expected.Get("mean")), 1e-4);
    EXPECT_LT(MaxError(out.std, expected.Get("std")), 1e-4);
    EXPECT_TRUE(out.lengths.equal(expected.Get("frame_num")));
    EXPECT_EQ(out.mask.sum(1).to(torch::kInt64).equal(out.lengths), true);
  }
}

// An utterance gives the same frames alone as in the batch, whatever fills the batch's padding.
TEST(MingTokAudio, PaddedBatchEqualsEachUtteranceAlone) {
  auto encoder = Load();
  const fas::SafeTensorsFile expected(Fixture("expected.safetensors"));
  const auto lengths = expected.Get("lengths");
  auto waveform = expected.Get("waveform");
  torch::NoGradGuard no_grad;
  torch::manual_seed(4);
  for (int64_t b = 0; b < waveform.size(0); ++b) {
    const int64_t n = lengths[b].item<int64_t>();
    waveform[b].slice(0, n).copy_(torch::randn({waveform.size(1) - n}));  // not zeros: must not leak in
  }
  const fas::MingTokAudioOutput batch = encoder->forward(waveform, lengths);
  for (int64_t b = 0; b < waveform.size(0); ++b) {
    const int64_t n = lengths[b].item<int64_t>();
    const fas::MingTokAudioOutput alone = encoder->forward(waveform.slice(0, b, b + 1).narrow(1, 0, n));
    const int64_t frames = alone.mean.size(1);
    EXPECT_EQ(frames, batch.lengths[b].item<int64_t>());
    EXPECT_LT(MaxError(batch.mean[b].narrow(0, 0, frames), alone.mean[0]), 1e-5) << b;
    EXPECT_LT(MaxError(batch.std[b].narrow(0, 0, frames), alone.std[0]), 1e-5) << b;
    EXPECT_LT(MaxError(alone.mean[0], expected.Get("mean")[b].narrow(0, 0, frames)), 1e-4) << b;
  }
}

// A frame depends on the samples up to its end only: changing the audio from frame 6 on leaves frames 0-5 as they
// were, in every layer, and changes frame 6.
TEST(MingTokAudio, AttentionIsCausal) {
  auto encoder = Load();
  const fas::SafeTensorsFile expected(Fixture("expected.safetensors"));
  auto waveform = expected.Get("waveform").slice(0, 0, 1);
  torch::NoGradGuard no_grad;
  const fas::MingTokAudioOutput before = encoder->forward(waveform);
  auto changed = waveform.clone();
  changed.slice(1, 6 * 320).add_(0.5);
  const fas::MingTokAudioOutput after = encoder->forward(changed);
  for (size_t i = 0; i < before.hidden_states.size(); ++i) {
    const auto& a = before.hidden_states[i];
    const auto& b = after.hidden_states[i];
    EXPECT_TRUE(torch::equal(a.narrow(1, 0, 6), b.narrow(1, 0, 6))) << i;
    EXPECT_GT((a.select(1, 6) - b.select(1, 6)).abs().max().item<double>(), 1e-3) << i;
  }
}

// Encode: the latent's mean by default (the paper's 64-d features at full size), a posterior draw on request, or
// the transformer's hidden states.
TEST(MingTokAudio, EncodeGivesTheConfiguredFeatures) {
  const fas::SafeTensorsFile expected(Fixture("expected.safetensors"));
  const fas::EncoderInput input{expected.Get("waveform"), expected.Get("lengths"), {}, {}};
  torch::NoGradGuard no_grad;

  auto mean = Load();
  EXPECT_EQ(mean->hidden_size(), 16);
  EXPECT_EQ(mean->num_layers(), 0);
  const fas::EncoderOutput m = mean->Encode(input);
  ASSERT_EQ(m.hidden_states.size(), 1u);
  EXPECT_LT(MaxError(m.hidden_states[0], expected.Get("mean")), 1e-4);
  EXPECT_TRUE(m.lengths.equal(expected.Get("frame_num")));

  fas::MingTokAudioConfig c = FixtureConfig();
  c.latent = "sample";
  auto sampled = Load(c);
  torch::manual_seed(7);
  const auto s1 = sampled->Encode(input).hidden_states[0];
  const auto s2 = sampled->Encode(input).hidden_states[0];
  EXPECT_FALSE(torch::allclose(s1, s2));
  // (sample - mean) / std is standard normal over the valid frames.
  const auto z = ((s1 - expected.Get("mean")) / expected.Get("std")).index({m.mask});
  EXPECT_NEAR(z.mean().item<double>(), 0.0, 0.15);
  EXPECT_NEAR(z.std().item<double>(), 1.0, 0.15);

  c = FixtureConfig();
  c.features = "hidden_states";
  auto states = Load(c);
  EXPECT_EQ(states->hidden_size(), 32);
  EXPECT_EQ(states->num_layers(), 3);
  const fas::EncoderOutput h = states->Encode(input);
  ASSERT_EQ(h.hidden_states.size(), 4u);
  EXPECT_LT(MaxError(h.hidden_states.back(), expected.Get("hidden_states.3")), 1e-4);
}

// A checkpoint that lacks an encoder tensor, or has one the module does not know, or of another shape: one line
// naming it.
TEST(MingTokAudio, LoadingErrorsNameTheTensor) {
  fas::testing::TempDir dir;
  const fas::NamedTensors published = fas::ReadSafeTensors(Fixture("model.safetensors"));
  // Loads the published tensors less `drop`, with `set` holding `value` (replaced, or added when new).
  auto write = [&](const std::string& drop, const std::string& set, const torch::Tensor& value) {
    fas::NamedTensors t;
    bool replaced = false;
    for (const auto& [name, tensor] : published) {
      if (name == drop) continue;
      replaced |= name == set;
      t.emplace_back(name, name == set ? value : tensor);
    }
    if (!set.empty() && !replaced) t.emplace_back(set, value);
    fas::WriteSafeTensors(dir / "model.safetensors", t);
    fas::MingTokAudioConfig c = FixtureConfig();
    c.weights = dir / "model.safetensors";
    return ErrorOf([&] { Load(c); });
  };
  auto one_line_naming = [](const std::string& what, const std::string& name) {
    EXPECT_NE(what.find(name), std::string::npos) << what;
    EXPECT_EQ(what.find('\n'), std::string::npos) << what;
  };
  one_line_naming(write("encoder.encoder.layers.1.self_attn.k_proj.bias", "", {}), "layers.1.self_attn.k_proj.bias");
  one_line_naming(write("", "encoder.fc4.weight", torch::zeros({2, 2})), "encoder.fc4.weight");
  one_line_naming(write("", "encoder.fc2.bias", torch::zeros({31})), "fc2.bias");
}

TEST(MingTokAudio, BadConfigsAreOneErrorNamingTheFileAndField) {
  fas::testing::TempDir dir;
  nlohmann::json published;
  std::ifstream(Fixture("config.json")) >> published;
  auto read = [&](const nlohmann::json& j) {
    fas::testing::WriteFile(dir / "config.json", j.dump());
    return ErrorOf([&] { fas::ReadMingTokAudioConfig(dir / "config.json"); });
  };
  nlohmann::json j = published;
  j.erase("enc_kwargs");
  EXPECT_NE(read(j).find("enc_kwargs"), std::string::npos);
  j = published;
  j["enc_kwargs"].erase("latent_dim");
  EXPECT_NE(read(j).find("latent_dim"), std::string::npos);
  j = published;
  j["enc_kwargs"]["backbone"]["rope_scaling"] = {{"type", "linear"}, {"factor", 2.0}};
  EXPECT_NE(read(j).find("rope_scaling"), std::string::npos);
  j = published;
  j["enc_kwargs"]["backbone"]["num_key_value_heads"] = 3;
  EXPECT_NE(read(j).find("num_key_value_heads"), std::string::npos);
  j = published;
  j["enc_kwargs"]["backbone"]["layer_types"] = {"full_attention", "sliding_attention", "full_attention"};
  EXPECT_NE(read(j).find("layer_types"), std::string::npos);
  j = published;
  j["enc_kwargs"]["backbone"]["layer_types"] = {"full_attention", "full_attention", "sliding_attention"};
  EXPECT_EQ(read(j), "");

  fas::MingTokAudioConfig c;
  c.latent = "mode";
  EXPECT_NE(ErrorOf([&] { c.Validate(); }).find("latent must be mean or sample"), std::string::npos);
}

}  // namespace

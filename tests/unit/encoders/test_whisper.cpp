// The Whisper encoder and its log-mel front end against transformers 5.25 (scripts/fixtures/make_whisper_fixtures.py).
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <cmath>
#include <cstdio>
#include <functional>
#include <string>

#include "fas/audio/features.h"
#include "fas/core/error.h"
#include "fas/encoders/whisper.h"
#include "fas/io/safetensors.h"
#include "support/test_support.h"

namespace {

std::string Fixture(const std::string& name) { return fas::testing::SourceDir() + "/tests/fixtures/whisper/" + name; }

// `dir`: "" for the 1 s window model, "window30s/" for the one with the released models' 1,500 positions.
fas::WhisperEncoder Load(const std::string& framing, const std::string& dir = "") {
  fas::WhisperEncoderConfig cfg;
  cfg.hf_config = Fixture(dir + "config.json");
  cfg.weights = Fixture(dir + "model.safetensors");
  cfg.framing = framing;
  auto encoder = fas::CreateWhisperEncoder(cfg);
  encoder->eval();
  return encoder;
}

double Compare(const fas::EncoderOutput& out, const std::string& expected_file) {
  const fas::SafeTensorsFile expected(Fixture(expected_file));
  double worst = 0;
  for (size_t i = 0; i < out.hidden_states.size(); ++i) {
    const auto ref = expected.Get("hidden_states." + std::to_string(i));
    EXPECT_EQ(out.hidden_states[i].sizes(), ref.sizes()) << i;
    if (out.hidden_states[i].sizes() != ref.sizes()) return 1e9;
    worst = std::max(worst, (out.hidden_states[i] - ref).abs().max().item<double>());
  }
  EXPECT_TRUE(out.lengths.equal(expected.Get("lengths")));
  return worst;
}

// 30 s at 16 kHz, the formula of make_whisper_fixtures.py's thirty_seconds(): computed in double, rounded to float.
torch::Tensor ThirtySeconds() {
  constexpr double kPi = 3.14159265358979323846;
  auto x = torch::empty({30 * 16000});
  auto* p = x.data_ptr<float>();
  for (int64_t n = 0; n < x.size(0); ++n) {
    const double t = static_cast<double>(n) / 16000;
    p[n] = static_cast<float>(0.3 * std::sin(2 * kPi * (100 * t + 50 * t * t)) +
                              0.1 * std::sin(2 * kPi * 440 * t) * (0.5 + 0.5 * std::sin(2 * kPi * 0.25 * t)));
  }
  return x;
}

// Runs `check` on every case of the log-mel fixture: each utterance's own samples, at 80 and 128 bins; `name` is the
// fixture's suffix for it ("80.0", ...).
void ForEachUtterance(
    const std::function<void(const fas::LogMelConfig&, const torch::Tensor&, const std::string&)>& check) {
  const fas::SafeTensorsFile inputs(Fixture("inputs.safetensors"));
  const auto wave = inputs.Get("waveform");
  const auto lengths = inputs.Get("lengths");
  for (int n_mels : {80, 128}) {
    fas::LogMelConfig cfg;
    cfg.n_mels = n_mels;
    for (int64_t r = 0; r < 2; ++r) {
      check(cfg, wave[r].slice(0, 0, lengths[r].item<int64_t>()), std::to_string(n_mels) + "." + std::to_string(r));
    }
  }
}

TEST(WhisperLogMel, MatchesTheFeatureExtractorOnEachUtterance) {
  const fas::SafeTensorsFile ref(Fixture("logmel.safetensors"));
  ForEachUtterance([&](const fas::LogMelConfig& cfg, const torch::Tensor& utterance, const std::string& name) {
    const auto mel = fas::LogMelSpectrogram(utterance, cfg);
    const auto expected = ref.Get("logmel" + name);
    ASSERT_EQ(mel.sizes(), expected.sizes());
    const double err = (mel - expected).abs().max().item<double>();
    std::printf("log-mel %s: max abs error %.3g\n", name.c_str(), err);
    EXPECT_LT(err, 1e-4);
  });
}

// transformers' WhisperFeatureExtractor by default pads every utterance to 30 s (480,000 samples, 3,000 frames);
// the fixture keeps its first 200 and last 100 frames (the signal and the padded tail).
TEST(WhisperLogMel, MatchesTheFeatureExtractorOn30sInput) {
  const fas::SafeTensorsFile ref(Fixture("logmel.safetensors"));
  ForEachUtterance([&](const fas::LogMelConfig& cfg, const torch::Tensor& utterance, const std::string& name) {
    auto padded = torch::zeros({480000});
    padded.slice(0, 0, utterance.size(0)).copy_(utterance);
    const auto mel = fas::LogMelSpectrogram(padded, cfg);
    ASSERT_EQ(mel.size(1), 3000);
    const auto kept = torch::cat({mel.slice(1, 0, 200), mel.slice(1, 2900, 3000)}, 1);
    const auto expected = ref.Get("logmel30s" + name);
    ASSERT_EQ(kept.sizes(), expected.sizes());
    const double err = (kept - expected).abs().max().item<double>();
    std::printf("log-mel 30 s %s: max abs error %.3g\n", name.c_str(), err);
    EXPECT_LT(err, 1e-4);
  });
}

// A signal over the whole window, so that the last frames (the reflect padding at the end, the dropped frame) carry
// signal too; the fixture keeps its first and last 100 frames.
TEST(WhisperLogMel, MatchesTheFeatureExtractorOnA30sSignal) {
  const fas::SafeTensorsFile ref(Fixture("logmel.safetensors"));
  const auto x = ThirtySeconds();
  for (int n_mels : {80, 128}) {
    fas::LogMelConfig cfg;
    cfg.n_mels = n_mels;
    const auto mel = fas::LogMelSpectrogram(x, cfg);
    ASSERT_EQ(mel.size(1), 3000);
    const auto kept = torch::cat({mel.slice(1, 0, 100), mel.slice(1, 2900, 3000)}, 1);
    const auto expected = ref.Get("logmel30sfull" + std::to_string(n_mels));
    ASSERT_EQ(kept.sizes(), expected.sizes());
    const double err = (kept - expected).abs().max().item<double>();
    std::printf("log-mel 30 s signal %d: max abs error %.3g\n", n_mels, err);
    EXPECT_LT(err, 1e-4);
  }
}

// The released models' window: 1,500 positions, 3,000 frames of the extractor's default 30 s input, from samples
// to the last hidden state.
TEST(WhisperEncoder, ThirtySecondWindowMatchesReference) {
  auto encoder = Load("window", "window30s/");
  torch::NoGradGuard no_grad;
  const auto out = encoder->forward(ThirtySeconds().unsqueeze(0));
  ASSERT_EQ(out.hidden_states.size(), 2u);
  EXPECT_EQ(out.last_hidden_state().size(1), 1500);
  const double err = Compare(out, "window30s/expected.safetensors");
  std::printf("whisper 30 s window: max abs error %.3g\n", err);
  EXPECT_LT(err, 1e-4);
}

TEST(WhisperEncoder, WindowFramingMatchesReference) {
  auto encoder = Load("window");
  const fas::SafeTensorsFile inputs(Fixture("inputs.safetensors"));
  torch::NoGradGuard no_grad;
  const auto out = encoder->forward(inputs.Get("waveform"), inputs.Get("lengths"));
  ASSERT_EQ(out.hidden_states.size(), 3u);
  EXPECT_EQ(out.last_hidden_state().size(1), 50);  // the whole 1 s window
  const double err = Compare(out, "expected_window.safetensors");
  std::printf("whisper window framing: max abs error %.3g\n", err);
  EXPECT_LT(err, 1e-4);
}

TEST(WhisperEncoder, VariableFramingMatchesReferenceAndIgnoresBatchPadding) {
  auto encoder = Load("variable");
  const fas::SafeTensorsFile inputs(Fixture("inputs.safetensors"));
  torch::NoGradGuard no_grad;
  const auto wave = inputs.Get("waveform");
  const auto out = encoder->forward(wave, inputs.Get("lengths"));
  const double err = Compare(out, "expected_variable.safetensors");
  std::printf("whisper variable framing: max abs error %.3g\n", err);
  EXPECT_LT(err, 1e-4);
  // The short utterance alone gives the states it had in the batch.
  const auto alone = encoder->forward(wave.slice(0, 1, 2).slice(1, 0, 8000));
  const int64_t n = alone.lengths[0].item<int64_t>();
  EXPECT_LT((alone.last_hidden_state()[0] - out.last_hidden_state()[1].slice(0, 0, n)).abs().max().item<double>(),
            1e-5);
  EXPECT_EQ(out.mask.sum(1)[1].item<int64_t>(), n);
}

// Under InferenceMode on the CPU the encoder takes its speed routes (head-parallel attention, oneDNN's linears with
// GELU fused); they hold the same parity with transformers, padding masks included.
TEST(WhisperEncoder, InferenceRoutesMatchReference) {
  c10::InferenceMode inference;
  auto thirty = Load("window", "window30s/");
  const double err30 = Compare(thirty->forward(ThirtySeconds().unsqueeze(0)), "window30s/expected.safetensors");
  const fas::SafeTensorsFile inputs(Fixture("inputs.safetensors"));
  const double window =
      Compare(Load("window")->forward(inputs.Get("waveform"), inputs.Get("lengths")), "expected_window.safetensors");
  const double variable = Compare(Load("variable")->forward(inputs.Get("waveform"), inputs.Get("lengths")),
                                  "expected_variable.safetensors");
  std::printf("whisper inference routes: max abs error 30 s %.3g, window %.3g, variable %.3g\n", err30, window,
              variable);
  EXPECT_LT(err30, 1e-4);
  EXPECT_LT(window, 1e-4);
  EXPECT_LT(variable, 1e-4);
}

// An utterance longer than the positions reach (the fixture models' 1 s; 30 s for the released ones) is encoded
// window by window and joined in time, in both framings: its first window's states are those of its first second
// alone, its last window's those of its remainder alone; a short utterance beside it is unaffected.
TEST(WhisperEncoder, LongUtterancesAreEncodedWindowByWindow) {
  for (const std::string framing : {"window", "variable"}) {
    SCOPED_TRACE(framing);
    auto encoder = Load(framing);
    torch::NoGradGuard no_grad;
    torch::manual_seed(3);
    const auto wave = torch::randn({2, 40000}) * 0.1;  // 2.5 s and, in the batch, 0.5 s
    const auto out = encoder->forward(wave, torch::tensor({40000, 8000}, torch::kInt64));
    const auto first = encoder->forward(wave.slice(0, 0, 1).slice(1, 0, 16000));
    const auto rest = encoder->forward(wave.slice(0, 0, 1).slice(1, 32000, 40000));
    const auto short_alone = encoder->forward(wave.slice(0, 1, 2).slice(1, 0, 8000));
    const int64_t f1 = first.lengths[0].item<int64_t>(), fr = rest.lengths[0].item<int64_t>();
    EXPECT_EQ(out.lengths[0].item<int64_t>(), 2 * f1 + fr);
    EXPECT_EQ(out.mask.sum(1)[0].item<int64_t>(), 2 * f1 + fr);
    for (size_t l = 0; l < out.hidden_states.size(); ++l) {
      const auto& h = out.hidden_states[l];
      EXPECT_LT((h[0].slice(0, 0, f1) - first.hidden_states[l][0].slice(0, 0, f1)).abs().max().item<double>(), 1e-5);
      EXPECT_LT((h[0].slice(0, 2 * f1, 2 * f1 + fr) - rest.hidden_states[l][0].slice(0, 0, fr)).abs().max().item<double>(),
                1e-5);
      const int64_t fs = short_alone.lengths[0].item<int64_t>();
      EXPECT_LT((h[1].slice(0, 0, fs) - short_alone.hidden_states[l][0].slice(0, 0, fs)).abs().max().item<double>(),
                1e-5);
    }
  }
}

TEST(WhisperEncoder, SinusoidsAndNames) {
  const auto s = fas::WhisperSinusoids(4, 8);
  EXPECT_NEAR(s[0][4].item<float>(), 1.0f, 1e-6);  // cos(0)
  EXPECT_NEAR(s[1][0].item<float>(), std::sin(1.0f), 1e-6);
  fas::WhisperEncoderConfig cfg;
  cfg.d_model = 16;
  cfg.encoder_ffn_dim = 32;
  fas::WhisperEncoder encoder(cfg);
  bool has_k_bias = false, has_q_bias = false;
  for (const auto& p : encoder->named_parameters()) {
    has_k_bias |= p.key() == "layers.0.self_attn.k_proj.bias";
    has_q_bias |= p.key() == "layers.0.self_attn.q_proj.bias";
  }
  EXPECT_FALSE(has_k_bias);
  EXPECT_TRUE(has_q_bias);
  EXPECT_FALSE(encoder->embed_positions->weight.requires_grad());
}

TEST(WhisperEncoder, BadConfigsAndInputsAreErrors) {
  fas::WhisperEncoderConfig cfg;
  cfg.framing = "chunks";
  EXPECT_THROW(cfg.Validate(), fas::ConfigError);
  cfg.framing = "variable";
  cfg.max_source_positions = 50;
  cfg.chunk_length = 30;
  EXPECT_THROW(cfg.Validate(), fas::ConfigError);  // a 30 s window needs 1500 positions
  cfg.chunk_length = 1;
  cfg.d_model = 16;
  cfg.encoder_ffn_dim = 16;
  fas::WhisperEncoder encoder(cfg);
  torch::NoGradGuard no_grad;
  EXPECT_THROW(encoder->forward(torch::zeros({8000})), fas::DataError);
  EXPECT_THROW(encoder->forward(torch::zeros({1, 8000}), torch::tensor({9000}, torch::kInt64)), fas::DataError);
}

}  // namespace

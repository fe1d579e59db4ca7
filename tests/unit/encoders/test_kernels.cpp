// The CPU speed routes (fas/encoders/kernels/) against the plain modules they replace: each route alone against the
// plain computation, and every fixture model run whole with FAS_KERNELS=reference and with the routes.
#include <ATen/autocast_mode.h>
#include <gtest/gtest.h>

#include <cstdlib>
#include <optional>
#include <string>

#include "fas/core/error.h"
#include "fas/encoders/kernels.h"
#include "fas/encoders/kernels/attention.h"
#include "fas/encoders/kernels/channels_last_conv.h"
#include "fas/encoders/kernels/head_parallel_attention.h"
#include "fas/encoders/kernels/onednn_linear.h"
#include "fas/encoders/kernels/time_major_conv.h"
#include "fas/encoders/kernels/winograd_conv.h"
#include "fas/encoders/wav2vec2.h"
#include "fas/io/safetensors.h"
#include "support/test_support.h"

namespace {

namespace k = fas::kernels;
using fas::testing::SourceDir;

constexpr double kTolerance = 1e-5;

double MaxAbs(const torch::Tensor& a, const torch::Tensor& b) { return (a - b).abs().max().item<double>(); }

// Sets FAS_KERNELS (or unsets it, for nullopt) for its lifetime, then restores what was there.
class KernelsEnvironment {
 public:
  explicit KernelsEnvironment(const std::optional<std::string>& value) {
    if (const char* old = std::getenv("FAS_KERNELS")) old_ = old;
    if (value) {
      setenv("FAS_KERNELS", value->c_str(), 1);
    } else {
      unsetenv("FAS_KERNELS");
    }
  }
  ~KernelsEnvironment() {
    if (old_) {
      setenv("FAS_KERNELS", old_->c_str(), 1);
    } else {
      unsetenv("FAS_KERNELS");
    }
  }
  KernelsEnvironment(const KernelsEnvironment&) = delete;
  KernelsEnvironment& operator=(const KernelsEnvironment&) = delete;

 private:
  std::optional<std::string> old_;
};

torch::nn::Linear RandomLinear(int64_t in, int64_t out) {
  torch::nn::Linear layer(in, out);
  torch::NoGradGuard no_grad;
  layer->weight.normal_(0.0, 0.5 / std::sqrt(static_cast<double>(in)));
  layer->bias.normal_(0.0, 0.1);
  return layer;
}

k::AttentionProjections RandomProjections(int64_t d, int64_t heads) {
  return {RandomLinear(d, d), RandomLinear(d, d), RandomLinear(d, d), RandomLinear(d, d), heads};
}

// HuggingFace's attention, op for op, as the plain module computes it.
torch::Tensor PlainAttention(const k::AttentionProjections& p, const torch::Tensor& x, const k::AttentionBiases& b) {
  const int64_t n = x.size(0), t = x.size(1), d = x.size(2);
  auto split = [&](const torch::Tensor& y) { return y.view({n, t, p.heads, p.head_dim()}).transpose(1, 2); };
  auto q = split(torch::linear(x, p.q->weight, p.q->bias) * p.scale());
  auto kk = split(torch::linear(x, p.k->weight, p.k->bias));
  auto v = split(torch::linear(x, p.v->weight, p.v->bias));
  auto probs = torch::softmax(k::AddBiases(torch::matmul(q, kk.transpose(-2, -1)), b), -1);
  return torch::linear(torch::matmul(probs, v).transpose(1, 2).reshape({n, t, d}), p.out->weight, p.out->bias);
}

// A padding mask (the last row shorter), and a position bias with its gate, as WavLM's.
k::AttentionBiases RandomBiases(int64_t batch, int64_t heads, int64_t t) {
  k::AttentionBiases b;
  auto valid = torch::ones({batch, t}, torch::kBool);
  valid[batch - 1].slice(0, t * 2 / 3).fill_(false);
  b.mask = torch::zeros({batch, t}).masked_fill(valid.logical_not(), std::numeric_limits<float>::lowest());
  b.mask = b.mask.view({batch, 1, 1, t});
  b.position = torch::randn({heads, t, t}) * 0.3;
  b.gate = torch::rand({batch, heads, t, 1}) + 0.5;
  return b;
}

TEST(Kernels, SwitchReadsTheConfigAndTheEnvironmentOverridesIt) {
  {
    KernelsEnvironment unset(std::nullopt);
    EXPECT_EQ(k::EffectiveKernels("auto"), "auto");
    EXPECT_EQ(k::EffectiveKernels("reference"), "reference");
  }
  {
    KernelsEnvironment reference("reference");
    EXPECT_EQ(k::EffectiveKernels("auto"), "reference");
  }
  {
    KernelsEnvironment bad("fastest");
    EXPECT_THROW(k::EffectiveKernels("auto"), fas::ConfigError);
  }
  fas::AcousticEncoderConfig c;
  c.kernels = "fast";
  EXPECT_THROW(c.Validate(), fas::ConfigError);
  torch::Tensor x = torch::zeros({2, 4});
  EXPECT_FALSE(k::CpuInference(true, x));  // no InferenceMode
  c10::InferenceMode guard;
  EXPECT_TRUE(k::CpuInference(true, x));
  EXPECT_FALSE(k::CpuInference(false, x));
}

TEST(Kernels, OneDnnLinearMatchesLinearWithItsFusedActivations) {
  torch::manual_seed(1);
  auto layer = RandomLinear(96, 160);
  k::OneDnnLinear onednn;
  c10::InferenceMode guard;
  for (const std::vector<int64_t>& shape : {std::vector<int64_t>{1, 1, 96}, {1, 49, 96}, {3, 170, 96}, {7, 96}}) {
    const auto x = torch::randn(shape);
    ASSERT_TRUE(k::OneDnnLinear::Applies(true, x));
    const auto plain = torch::linear(x, layer->weight, layer->bias);
    EXPECT_EQ(onednn(layer, x).sizes(), plain.sizes());
    EXPECT_LT(MaxAbs(onednn(layer, x), plain), kTolerance) << x.sizes();
    EXPECT_LT(MaxAbs(onednn(layer, x, k::PostOp::kGelu), torch::gelu(plain)), kTolerance) << x.sizes();
    EXPECT_LT(MaxAbs(onednn(layer, x, k::PostOp::kRelu), torch::relu(plain)), kTolerance) << x.sizes();
  }
  // A transposed (non-contiguous) input, as the attention's output can be.
  const auto xt = torch::randn({96, 20}).t();
  EXPECT_LT(MaxAbs(onednn(layer, xt), torch::linear(xt, layer->weight, layer->bias)), kTolerance);
  EXPECT_FALSE(k::OneDnnLinear::Applies(false, torch::randn({1, 49, 96})));
  EXPECT_FALSE(k::OneDnnLinear::Applies(true, torch::randn({1, 49, 96}, torch::kFloat64)));
  EXPECT_FALSE(k::OneDnnLinear::Applies(true, torch::randn({1, 49, 96}, torch::kBFloat16)));
}

TEST(Kernels, OneDnnLinearFollowsWeightUpdates) {
  torch::manual_seed(2);
  auto layer = RandomLinear(32, 48);
  k::OneDnnLinear onednn;
  const auto x = torch::randn({5, 32});
  {
    c10::InferenceMode guard;
    onednn(layer, x);
  }
  {
    torch::NoGradGuard no_grad;
    layer->weight.mul_(2.0);
  }
  c10::InferenceMode guard;
  EXPECT_LT(MaxAbs(onednn(layer, x), torch::linear(x, layer->weight, layer->bias)), kTolerance);
}

// A layer made under InferenceMode has parameters without a version counter: a load into them (copy_, in place)
// leaves the tensor unchanged to the cache's eye, so the route must not reuse what it packed before.
TEST(Kernels, OneDnnLinearFollowsLoadsIntoParametersMadeUnderInferenceMode) {
  c10::InferenceMode guard;
  torch::manual_seed(3);
  auto layer = RandomLinear(32, 48);
  k::OneDnnLinear onednn;
  const auto x = torch::randn({5, 32});
  onednn(layer, x);
  layer->weight.copy_(torch::randn({48, 32}));
  EXPECT_LT(MaxAbs(onednn(layer, x), torch::linear(x, layer->weight, layer->bias)), kTolerance);
}

TEST(Kernels, RoutesStepAsideUnderCpuAutocast) {
  c10::InferenceMode guard;
  const auto x = torch::randn({4, 8});
  EXPECT_TRUE(k::CpuInference(true, x));
  at::autocast::set_autocast_enabled(at::kCPU, true);
  EXPECT_FALSE(k::CpuInference(true, x));
  EXPECT_FALSE(k::OneDnnLinear::Applies(true, x));
  at::autocast::set_autocast_enabled(at::kCPU, false);
}

// Each attention route, one utterance and a padded batch, with and without WavLM's gated position bias.
TEST(Kernels, AttentionRoutesMatchThePlainAttention) {
  torch::manual_seed(4);
  const int64_t d = 64, heads = 4;
  const auto p = RandomProjections(d, heads);
  for (const auto& [batch, t] : std::vector<std::pair<int64_t, int64_t>>{{1, 49}, {3, 30}, {2, 120}}) {
    const auto x = torch::randn({batch, t, d});
    for (const bool position : {false, true}) {
      auto biases = RandomBiases(batch, heads, t);
      if (!position) biases.position = biases.gate = torch::Tensor();
      const auto plain = PlainAttention(p, x, biases);
      const std::string label = std::to_string(batch) + " x " + std::to_string(t) + (position ? " position" : "");
      c10::InferenceMode guard;
      k::FusedQkv fused;
      k::HeadParallelAttention head_parallel;
      ASSERT_TRUE(k::HeadParallelAttention::Applies(true, x));
      EXPECT_LT(MaxAbs(head_parallel(p, fused, x, biases), plain), kTolerance) << "heads " << label;
      EXPECT_LT(MaxAbs(k::FusedQkvAttention::Run(p, fused, x, biases), plain), kTolerance) << "fused " << label;
    }
  }
}

// conv1d (and the group norm after it, for one input channel) over [B, C, T], time-major.
torch::Tensor PlainConv(torch::nn::Conv1d conv, torch::nn::GroupNorm norm, const torch::Tensor& x) {
  auto y = conv->forward(x.transpose(1, 2));
  if (norm) y = norm->forward(y);
  return y.transpose(1, 2);
}

// One input channel (group norm folded in or not), Winograd's 3-tap stride-2 layers with an even and an odd number
// of output frames, and strided products for other kernels and strides.
TEST(Kernels, TimeMajorConvMatchesConv1d) {
  struct Case {
    int64_t in, out, kernel, stride, samples;
    bool group_norm, bias;
  };
  for (const Case& c : std::vector<Case>{{1, 32, 10, 5, 2010, true, false},
                                         {1, 32, 10, 5, 2010, false, true},
                                         {1, 32, 10, 5, 2013, true, true},
                                         {24, 32, 3, 2, 401, false, false},
                                         {24, 32, 3, 2, 403, false, true},
                                         {24, 32, 2, 2, 300, false, false},
                                         {24, 16, 4, 2, 301, false, true},
                                         {24, 16, 5, 3, 301, false, false}}) {
    torch::manual_seed(5);
    torch::nn::Conv1d conv(torch::nn::Conv1dOptions(c.in, c.out, c.kernel).stride(c.stride).bias(c.bias));
    torch::nn::GroupNorm norm{nullptr};
    if (c.group_norm) {
      norm = torch::nn::GroupNorm(torch::nn::GroupNormOptions(c.out, c.out));
      torch::NoGradGuard no_grad;
      norm->weight.normal_(1.0, 0.2);
      norm->bias.normal_(0.0, 0.2);
    }
    const auto x = torch::randn({2, c.samples, c.in}) * 0.5;
    torch::Tensor plain;
    {
      torch::NoGradGuard no_grad;
      plain = PlainConv(conv, norm, x);
    }
    k::TimeMajorConv route;
    c10::InferenceMode guard;
    ASSERT_TRUE(k::TimeMajorConv::Applies(true, x));
    EXPECT_LT(MaxAbs(route(x, conv, norm), plain), kTolerance)
        << c.in << " -> " << c.out << " kernel " << c.kernel << " stride " << c.stride << " samples " << c.samples;
  }
}

TEST(Kernels, Winograd3x2MatchesConv1dOnOneUtterance) {
  torch::manual_seed(6);
  const int64_t cin = 16, cout = 24;
  const auto weight = torch::randn({cout, cin, 3}) * 0.2, bias = torch::randn({cout}) * 0.1;
  const auto taps = weight.permute({2, 1, 0}).reshape({-1, cout}).contiguous();
  const auto even_sum = taps.narrow(0, 0, cin) + taps.narrow(0, 2 * cin, cin);
  for (const int64_t t : {3, 4, 5, 6, 99, 100}) {
    const auto x = torch::randn({t, cin});
    const auto plain = torch::conv1d(x.t().unsqueeze(0), weight, bias, 2).squeeze(0).t();
    auto out = torch::empty({(t - 3) / 2 + 1, cout});
    k::Winograd3x2Rows(x, taps, even_sum, bias, out);
    EXPECT_LT(MaxAbs(out, plain), kTolerance) << t << " frames";
  }
}

TEST(Kernels, ChannelsLastConvMatchesWeightNormConv1d) {
  torch::manual_seed(7);
  const int64_t channels = 32, groups = 4;
  for (const int64_t kernel : {8, 7}) {
    const auto v = torch::randn({channels, channels / groups, kernel}) * 0.2;
    const auto g = torch::rand({1, 1, kernel}) + 0.5;
    const auto bias = torch::randn({channels}) * 0.1;
    const auto x = torch::randn({2, 50, channels});
    const auto plain =
        torch::conv1d(x.transpose(1, 2), torch::_weight_norm(v, g, 2), bias, 1, kernel / 2, 1, groups).transpose(1, 2);
    k::ChannelsLastConv route;
    EXPECT_LT(MaxAbs(route(x, g, v, bias, kernel / 2, groups), plain), kTolerance) << kernel << " no-grad";
    c10::InferenceMode guard;
    EXPECT_LT(MaxAbs(route(x, g, v, bias, kernel / 2, groups), plain), kTolerance) << kernel << " inference";
  }
}

std::string Fixture(const std::string& variant, const std::string& file) {
  return SourceDir() + "/tests/fixtures/acoustic/" + variant + "/" + file;
}

// The fixture's model, its kernels chosen by FAS_KERNELS at construction (unset: the routes).
fas::AcousticEncoder LoadVariant(const std::string& variant, const std::optional<std::string>& kernels) {
  KernelsEnvironment environment(kernels);
  fas::AcousticEncoderConfig c;
  c.hf_config = Fixture(variant, "config.json");
  c.weights = Fixture(variant, "model.safetensors");
  auto enc = fas::CreateAcousticEncoder(c);
  enc->eval();
  return enc;
}

class ReferenceAgainstRoutes : public ::testing::TestWithParam<std::string> {};

// Every hidden state of the model with FAS_KERNELS=reference against the same model on its speed routes, under
// InferenceMode: the fixtures' padded batch, the same batch unpadded (3 x 79 frames) and one short utterance
// (6 frames).
TEST_P(ReferenceAgainstRoutes, EveryHiddenStateAgrees) {
  const std::string variant = GetParam();
  auto reference = LoadVariant(variant, "reference");
  auto routes = LoadVariant(variant, std::nullopt);
  EXPECT_EQ(reference->config().kernels, "reference");
  EXPECT_EQ(routes->config().kernels, "auto");
  fas::SafeTensorsFile io(Fixture(variant, "io.safetensors"));
  const auto waveform = io.Get("waveform"), lengths = io.Get("lengths");
  struct Input {
    std::string label;
    torch::Tensor waveform, lengths;
  };
  const std::vector<Input> inputs{{"padded batch", waveform, lengths},
                                  {"unpadded batch", waveform, torch::Tensor()},
                                  {"short utterance", waveform.slice(0, 0, 1).slice(1, 0, 2010), torch::Tensor()}};
  c10::InferenceMode guard;
  for (const auto& input : inputs) {
    const auto a = reference->forward(input.waveform, input.lengths);
    const auto b = routes->forward(input.waveform, input.lengths);
    ASSERT_TRUE(torch::equal(a.lengths, b.lengths));
    double worst = 0;
    for (size_t i = 0; i < a.hidden_states.size(); ++i) {
      for (int64_t row = 0; row < a.lengths.size(0); ++row) {
        const int64_t n = a.lengths[row].item<int64_t>();
        worst = std::max(worst, MaxAbs(a.hidden_states[i][row].slice(0, 0, n), b.hidden_states[i][row].slice(0, 0, n)));
      }
    }
    EXPECT_LE(worst, kTolerance) << variant << " " << input.label;
    std::printf("reference vs routes %-30s %-16s max abs difference %.3g\n", variant.c_str(), input.label.c_str(),
                worst);
  }
}

INSTANTIATE_TEST_SUITE_P(Acoustic, ReferenceAgainstRoutes,
                         ::testing::Values("wav2vec2_postln_group", "wav2vec2_preln_layer",
                                           "hubert_postln_layer_noprojln", "hubert_preln_group", "wavlm_postln_group",
                                           "wavlm_preln_layer"));

// `kernels: reference` in the config does what FAS_KERNELS=reference does.
TEST(Kernels, ConfigKeySelectsTheReference) {
  KernelsEnvironment unset(std::nullopt);
  fas::AcousticEncoderConfig c;
  c.hf_config = Fixture("wavlm_postln_group", "config.json");
  c.weights = Fixture("wavlm_postln_group", "model.safetensors");
  c.kernels = "reference";
  auto by_config = fas::CreateAcousticEncoder(c);
  by_config->eval();
  EXPECT_EQ(by_config->config().kernels, "reference");
  auto by_environment = LoadVariant("wavlm_postln_group", "reference");
  fas::SafeTensorsFile io(Fixture("wavlm_postln_group", "io.safetensors"));
  c10::InferenceMode guard;
  const auto waveform = io.Get("waveform"), lengths = io.Get("lengths");
  EXPECT_TRUE(torch::equal(by_config->forward(waveform, lengths).last_hidden_state(),
                           by_environment->forward(waveform, lengths).last_hidden_state()));
}

}  // namespace

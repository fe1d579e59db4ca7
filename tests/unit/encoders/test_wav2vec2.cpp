#include <gtest/gtest.h>

#include <cstdio>

#include "fas/core/device.h"
#include "fas/core/error.h"
#include "fas/encoders/wav2vec2.h"
#include "fas/engine/adamw.h"
#include "support/test_support.h"

namespace {

using fas::testing::SourceDir;
using fas::testing::TempDir;
using fas::testing::WriteFile;

std::string Fixture(const std::string& variant, const std::string& file) {
  return SourceDir() + "/tests/fixtures/acoustic/" + variant + "/" + file;
}

fas::AcousticEncoder LoadVariant(const std::string& variant, fas::LoadReport* report = nullptr) {
  fas::AcousticEncoderConfig c;
  c.hf_config = Fixture(variant, "config.json");
  c = fas::ResolveAcousticConfig(c);
  fas::AcousticEncoder enc(c);
  auto r = enc->LoadWeights(Fixture(variant, "model.safetensors"));
  if (report) *report = r;
  enc->eval();
  return enc;
}

// Largest |a - b| over the valid frames of each row.
double MaxAbsValid(const torch::Tensor& a, const torch::Tensor& b, const torch::Tensor& frame_lengths) {
  double worst = 0;
  for (int64_t i = 0; i < a.size(0); ++i) {
    const int64_t n = frame_lengths[i].item<int64_t>();
    auto d = (a[i].slice(0, 0, n) - b[i].slice(0, 0, n)).abs().max().item<double>();
    worst = std::max(worst, d);
  }
  return worst;
}

class Parity : public ::testing::TestWithParam<std::string> {};

TEST_P(Parity, EveryHiddenStateMatchesTheReference) {
  const std::string variant = GetParam();
  auto enc = LoadVariant(variant);
  fas::SafeTensorsFile io(Fixture(variant, "io.safetensors"));
  const auto waveform = io.Get("waveform"), lengths = io.Get("lengths"), frames = io.Get("frame_lengths");
  // Both paths: autograd-free training code (live weights) and InferenceMode (folded weight norm, fused QKV).
  for (const bool inference : {false, true}) {
    fas::EncoderOutput out;
    if (inference) {
      c10::InferenceMode guard;
      out = enc->forward(waveform, lengths);
    } else {
      torch::NoGradGuard guard;
      out = enc->forward(waveform, lengths);
    }
    EXPECT_TRUE(torch::equal(out.lengths, frames));
    ASSERT_EQ(out.hidden_states.size(), static_cast<size_t>(enc->num_layers() + 1));
    double worst = 0;
    for (size_t i = 0; i < out.hidden_states.size(); ++i) {
      const auto ref = io.Get("hidden_states." + std::to_string(i));
      ASSERT_EQ(out.hidden_states[i].sizes(), ref.sizes()) << i;
      const double err = MaxAbsValid(out.hidden_states[i], ref, frames);
      EXPECT_LT(err, 1e-4) << variant << " hidden_states." << i;
      worst = std::max(worst, err);
    }
    std::printf("parity %-30s %-9s max abs error %.3g over %zu hidden states\n", variant.c_str(),
                inference ? "inference" : "no-grad", worst, out.hidden_states.size());
    EXPECT_EQ(out.mask.sum().item<int64_t>(), frames.sum().item<int64_t>());
  }
}

// A group-norm front end (wav2vec2-base, hubert-base) is run in transformers without attention_mask: those
// checkpoints' feature extractors return none. FAS without lengths masks nothing either, so every frame of the
// padded batch, padding included, must match.
class ParityUnmasked : public ::testing::TestWithParam<std::string> {};

TEST_P(ParityUnmasked, EveryHiddenStateOfEveryFrameMatchesTheReference) {
  const std::string variant = GetParam();
  fas::SafeTensorsFile io(Fixture(variant, "io.safetensors"));
  auto enc = LoadVariant(variant);
  const auto waveform = io.Get("waveform");
  for (const bool inference : {false, true}) {
    fas::EncoderOutput out;
    if (inference) {
      c10::InferenceMode guard;
      out = enc->forward(waveform);
    } else {
      torch::NoGradGuard guard;
      out = enc->forward(waveform);
    }
    ASSERT_EQ(out.hidden_states.size(), static_cast<size_t>(enc->num_layers() + 1));
    double worst = 0;
    for (size_t i = 0; i < out.hidden_states.size(); ++i) {
      const auto ref = io.Get("unmasked.hidden_states." + std::to_string(i));
      ASSERT_EQ(out.hidden_states[i].sizes(), ref.sizes()) << i;
      const double err = (out.hidden_states[i] - ref).abs().max().item<double>();
      EXPECT_LT(err, 1e-4) << variant << " unmasked hidden_states." << i;
      worst = std::max(worst, err);
    }
    std::printf("parity %-30s %-9s unmasked, every frame: max abs error %.3g\n", variant.c_str(),
                inference ? "inference" : "no-grad", worst);
  }
}

INSTANTIATE_TEST_SUITE_P(Acoustic, Parity,
                         ::testing::Values("wav2vec2_postln_group", "wav2vec2_preln_layer",
                                           "hubert_postln_layer_noprojln", "hubert_preln_group", "wavlm_postln_group",
                                           "wavlm_preln_layer"));
INSTANTIATE_TEST_SUITE_P(Acoustic, ParityUnmasked,
                         ::testing::Values("wav2vec2_postln_group", "hubert_preln_group", "wavlm_postln_group"));

// Every hidden state of the InferenceMode routes within 1e-4 of the no-grad (training code) path, valid frames.
void ExpectInferenceMatchesNoGrad(fas::AcousticEncoder& enc, const torch::Tensor& waveform,
                                  const torch::Tensor& lengths, const std::string& label) {
  fas::EncoderOutput fast, live;
  {
    c10::InferenceMode guard;
    fast = enc->forward(waveform, lengths);
  }
  {
    torch::NoGradGuard guard;
    live = enc->forward(waveform, lengths);
  }
  for (size_t i = 0; i < live.hidden_states.size(); ++i) {
    EXPECT_LT(MaxAbsValid(fast.hidden_states[i], live.hidden_states[i], live.lengths), 1e-4)
        << label << " hidden_states." << i;
  }
}

// Inference takes other routes than training code: the conv front end time-major as strided matrix products (the
// group norm folded into the first, Winograd's F(2, 2) in the 3-tap ones), every linear as oneDNN's inner product on
// a packed weight (GELU fused), fused QKV with attention one (utterance, head) task a thread; each must compute
// what the no-grad path computes, padded or not.
TEST(Wav2Vec2, InferenceRoutesAgreeWithTheTrainingPath) {
  for (const std::string variant : {"wav2vec2_postln_group", "wavlm_preln_layer"}) {
    auto enc = LoadVariant(variant);
    torch::manual_seed(5);
    // 1 x 99, 3 x 49 (padded) and 2 x 999 frames. 2,010 samples give the 3-tap stride-2 layers an even number of
    // output frames (401 -> 200), the other sizes an odd one (the Winograd route's last frame).
    for (const auto& [rows, samples] : std::vector<std::pair<int64_t, int64_t>>{{1, 2010}, {3, 1000}, {2, 20000}}) {
      const auto waveform = torch::randn({rows, samples}) * 0.1;
      const auto lengths = torch::tensor({samples, samples * 3 / 4, samples / 2}).slice(0, 0, rows);
      ExpectInferenceMatchesNoGrad(enc, waveform, lengths,
                                   variant + " " + std::to_string(rows) + " x " + std::to_string(samples));
    }
  }
}

// The time-major front end has three routes (one input channel; 3-tap stride 2; any other kernel and stride,
// with kernel > stride to accumulate over tap groups); the fixtures' [10, 3, 3] / [5, 2, 2] front ends reach only
// the first two. Both norm modes, with and without conv bias, against LibTorch's conv1d on the no-grad path.
TEST(Wav2Vec2, TimeMajorFrontEndMatchesConv1dForOtherKernelsAndStrides) {
  for (const std::string norm : {"group", "layer"}) {
    for (const bool bias : {false, true}) {
      fas::AcousticEncoderConfig c;
      c.conv_dim = {8, 12, 12, 16, 16};
      c.conv_kernel = {10, 3, 2, 4, 5};
      c.conv_stride = {5, 2, 2, 2, 3};
      c.feat_extract_norm = norm;
      c.conv_bias = bias;
      c.hidden_size = 16;
      c.num_hidden_layers = 1;
      c.num_attention_heads = 2;
      c.intermediate_size = 32;
      c.num_conv_pos_embeddings = 4;
      c.num_conv_pos_embedding_groups = 2;
      torch::manual_seed(11);
      fas::AcousticEncoder enc(c);
      enc->eval();
      const auto waveform = torch::randn({2, 3001}) * 0.1;
      ExpectInferenceMatchesNoGrad(enc, waveform, torch::tensor({3001, 2400}), norm + " bias " + std::to_string(bias));
    }
  }
}

// The inference path caches tensors derived from the weights (folded weight norm, fused and scaled QKV, oneDNN-packed
// matrices); after the weights change in place, as an optimiser step changes them, it must compute with the new
// values.
TEST(Wav2Vec2, InferenceCachesFollowWeightUpdates) {
  auto enc = LoadVariant("wavlm_postln_group");
  fas::SafeTensorsFile io(Fixture("wavlm_postln_group", "io.safetensors"));
  const auto waveform = io.Get("waveform"), lengths = io.Get("lengths"), frames = io.Get("frame_lengths");
  auto infer = [&] {
    c10::InferenceMode guard;
    return enc->forward(waveform, lengths).last_hidden_state();
  };
  const auto before = infer();
  torch::manual_seed(3);
  {
    torch::NoGradGuard guard;
    for (auto& p : enc->parameters()) p.add_(torch::randn_like(p) * 0.05);
  }
  const auto after = infer();
  auto live = [&] {
    torch::NoGradGuard guard;
    return enc->forward(waveform, lengths).last_hidden_state();
  };
  EXPECT_GT(MaxAbsValid(after, before, frames), 1e-2);
  EXPECT_LT(MaxAbsValid(after, live(), frames), 1e-4);
  // The trainer's optimizer writes the parameters through raw pointers; its step must reach the caches too (an
  // evaluation during training takes these routes).
  fas::FusedAdamW optimizer(enc->parameters(), torch::optim::AdamWOptions(1e-2));
  enc->forward(waveform, lengths).last_hidden_state().pow(2).mean().backward();
  optimizer.step();
  const auto trained = infer();
  EXPECT_GT(MaxAbsValid(trained, after, frames), 1e-3);
  EXPECT_LT(MaxAbsValid(trained, live(), frames), 1e-4);
}

TEST(Wav2Vec2, CheckpointHeadsAreSkippedOnPurposeAndSpellingsMap) {
  fas::LoadReport report;
  LoadVariant("wav2vec2_preln_layer", &report);  // Wav2Vec2ForCTC: prefix wav2vec2., parametrizations.*, CTC head
  EXPECT_EQ(report.skipped, (std::vector<std::string>{"lm_head.bias", "lm_head.weight"}));
  EXPECT_TRUE(report.missing_optional.empty());
  LoadVariant("hubert_postln_layer_noprojln", &report);  // no masked_spec_embed in the checkpoint
  EXPECT_EQ(report.missing_optional, (std::vector<std::string>{"masked_spec_embed"}));
}

TEST(Wav2Vec2, WrongArchitectureIsAStrictLoadError) {
  fas::AcousticEncoderConfig c = fas::ReadHfAcousticConfig(Fixture("wav2vec2_postln_group", "config.json"));
  c.hidden_size = 48;
  c.num_attention_heads = 4;
  fas::AcousticEncoder enc(c);
  try {
    enc->LoadWeights(Fixture("wav2vec2_postln_group", "model.safetensors"));
    FAIL() << "loaded into the wrong shape";
  } catch (const fas::ModelError& e) {
    const std::string msg = e.what();
    EXPECT_NE(msg.find("expected [48"), std::string::npos) << msg;
    EXPECT_NE(msg.find("got") == std::string::npos ? msg.find("has shape [") : 0, std::string::npos) << msg;
  }
  // WavLM weights in a wav2vec2 model: WavLM-only tensors are unexpected, named.
  fas::AcousticEncoderConfig w = fas::ReadHfAcousticConfig(Fixture("wavlm_postln_group", "config.json"));
  w.type = "wav2vec2";
  fas::AcousticEncoder plain(w);
  try {
    plain->LoadWeights(Fixture("wavlm_postln_group", "model.safetensors"));
    FAIL();
  } catch (const fas::ModelError& e) {
    EXPECT_NE(std::string(e.what()).find("gru_rel_pos"), std::string::npos) << e.what();
  }
}

TEST(Wav2Vec2, PaddingDoesNotChangeValidFrames) {
  // A layer-norm front end sees each row alone, so a padded batch must give each row what it gives unpadded.
  auto enc = LoadVariant("wav2vec2_preln_layer");
  fas::SafeTensorsFile io(Fixture("wav2vec2_preln_layer", "io.safetensors"));
  const auto waveform = io.Get("waveform"), lengths = io.Get("lengths");
  c10::InferenceMode guard;
  auto batch = enc->forward(waveform, lengths);
  const int64_t n = lengths[2].item<int64_t>();
  auto alone = enc->forward(waveform.slice(0, 2, 3).slice(1, 0, n));
  const int64_t frames = alone.lengths[0].item<int64_t>();
  for (size_t i = 0; i < batch.hidden_states.size(); ++i) {
    auto diff = (batch.hidden_states[i][2].slice(0, 0, frames) - alone.hidden_states[i][0]).abs().max();
    EXPECT_LT(diff.item<double>(), 1e-4) << i;
  }
}

TEST(Wav2Vec2, FullSizeBaseHasHuggingFacesParameterCountAndShapes) {
  TempDir d;
  WriteFile(d / "config.json", R"({"model_type": "wav2vec2"})");
  fas::AcousticEncoder enc(fas::ReadHfAcousticConfig(d / "config.json"));
  int64_t count = 0;
  for (const auto& p : enc->parameters()) count += p.numel();
  EXPECT_EQ(count, 94371712);  // HuggingFace Wav2Vec2Model(Wav2Vec2Config()), masked_spec_embed included
  enc->eval();
  c10::InferenceMode guard;
  auto out = enc->forward(torch::randn({2, 16000}) * 0.1, torch::tensor({16000, 12000}));
  ASSERT_EQ(out.hidden_states.size(), 13u);
  for (const auto& h : out.hidden_states) EXPECT_EQ(h.sizes(), (std::vector<int64_t>{2, 49, 768}));
  EXPECT_TRUE(torch::equal(out.lengths, torch::tensor({49, 37})));
  EXPECT_TRUE(torch::isfinite(out.last_hidden_state()).all().item<bool>());
}

TEST(Wav2Vec2, TrainingStepReachesEveryTrainableParameter) {
  fas::AcousticEncoderConfig c;
  c.type = "wavlm";
  c.conv_dim = {16, 16};
  c.conv_kernel = {10, 4};
  c.conv_stride = {5, 4};
  c.hidden_size = 16;
  c.num_hidden_layers = 2;
  c.num_attention_heads = 2;
  c.intermediate_size = 32;
  c.num_conv_pos_embeddings = 4;
  c.num_conv_pos_embedding_groups = 2;
  c.num_buckets = 16;
  c.max_bucket_distance = 32;
  c.mask_time_prob = 0.5;
  c.mask_time_length = 2;
  c.mask_feature_prob = 0.3;
  c.mask_feature_length = 2;
  c.layerdrop = 0.5;
  fas::AcousticEncoder enc(c);
  enc->DisableLayerDrop();
  enc->train();
  fas::EncoderInput input;
  input.waveform = torch::randn({2, 2000});
  input.lengths = torch::tensor({2000, 1500});
  auto out = enc->Encode(input);
  fas::LayerWeightedSum sum(enc->num_layers() + 1);
  EXPECT_TRUE(torch::allclose(sum->weights(), torch::full({3}, 1.0 / 3)));
  auto pooled = sum(out.hidden_states);
  (pooled * out.mask.unsqueeze(-1)).pow(2).mean().backward();
  for (const auto& p : enc->named_parameters()) {
    if (p.key() == "masked_spec_embed") continue;  // used only where a span was masked
    EXPECT_TRUE(p.value().grad().defined() && p.value().grad().abs().sum().item<double>() > 0) << p.key();
  }
  EXPECT_TRUE(sum->layer_logits.grad().defined());
  auto stacked = sum->Stacked(torch::stack(out.hidden_states, 1));
  EXPECT_TRUE(torch::allclose(stacked, pooled));
}

TEST(LayerWeightedSum, StackedIsTheSoftmaxWeightedSumAndSoIsItsGradient) {
  // The mix runs as one batched product; it is sum_s softmax(logits)_s x_s, with that expression's gradient for the
  // logits and for trained states, over [B, S, T, D] and [B, S, D] stacks.
  for (const std::vector<int64_t>& shape : {std::vector<int64_t>{3, 4, 5, 6}, std::vector<int64_t>{2, 4, 7}}) {
    fas::LayerWeightedSum sum(4);
    sum->to(torch::kDouble);
    {
      torch::NoGradGuard no_grad;
      sum->layer_logits.copy_(torch::tensor({0.3, -1.0, 2.0, 0.5}, torch::kDouble));
    }
    const auto x = torch::randn(shape, torch::kDouble).requires_grad_(true);
    const auto g = torch::randn(sum->Stacked(x).sizes(), torch::kDouble);
    (sum->Stacked(x) * g).sum().backward();
    const auto fast_logits = sum->layer_logits.grad().clone(), fast_x = x.grad().clone();
    sum->layer_logits.mutable_grad() = torch::Tensor();
    x.mutable_grad() = torch::Tensor();
    std::vector<int64_t> view(shape.size(), 1);
    view[1] = 4;
    const auto plain = (x * torch::softmax(sum->layer_logits, 0).view(view)).sum(1);
    EXPECT_TRUE(torch::allclose(sum->Stacked(x), plain, 1e-12, 1e-12));
    (plain * g).sum().backward();
    EXPECT_TRUE(torch::allclose(fast_logits, sum->layer_logits.grad(), 1e-12, 1e-12));
    EXPECT_TRUE(torch::allclose(fast_x, x.grad(), 1e-12, 1e-12));
  }
  // Under autocast the mix keeps the states' dtype (a batched product would otherwise run in bfloat16).
  fas::LayerWeightedSum mix(3);
  const fas::Autocast autocast(torch::kCPU, fas::Precision::kBFloat16);
  EXPECT_EQ(mix->Stacked(torch::randn({2, 3, 4, 5})).scalar_type(), torch::kFloat);
}

TEST(Wav2Vec2, FreezingAndUnfreezeAfterSteps) {
  fas::AcousticEncoderConfig c;
  c.num_hidden_layers = 1;
  c.freeze = "all";
  c.unfreeze_after_steps = 10;
  fas::AcousticEncoder enc(c);
  auto trainable = [&](const std::string& prefix) {
    bool any = false;
    for (const auto& p : enc->named_parameters()) {
      if (p.key().rfind(prefix, 0) == 0) any = any || p.value().requires_grad();
    }
    return any;
  };
  EXPECT_FALSE(trainable("encoder."));
  enc->OnTrainStep(9);
  EXPECT_EQ(enc->freeze(), "all");
  enc->OnTrainStep(10);
  EXPECT_EQ(enc->freeze(), "feature_extractor");
  EXPECT_TRUE(trainable("encoder."));
  EXPECT_FALSE(trainable("feature_extractor."));
  enc->OnTrainStep(11);  // relaxes once only
  EXPECT_EQ(enc->freeze(), "feature_extractor");
  EXPECT_THROW(enc->SetFreeze("half"), fas::ConfigError);
}

TEST(Wav2Vec2, BadInputsAndConfigsAreCleanErrors) {
  fas::AcousticEncoderConfig c;
  c.num_hidden_layers = 1;
  fas::AcousticEncoder enc(c);
  EXPECT_THROW(enc->forward(torch::zeros({1, 300})), fas::DataError);  // below the 400-sample receptive field
  EXPECT_THROW(enc->forward(torch::zeros({1, 1000}), torch::tensor({2000})), fas::DataError);
  EXPECT_THROW(enc->forward(torch::zeros({1000})), fas::DataError);
  EXPECT_EQ(c.ReceptiveField(), 400);
  EXPECT_EQ(c.FrameStride(), 320);
  c.num_attention_heads = 5;
  EXPECT_THROW(c.Validate(), fas::ConfigError);
  TempDir d;
  WriteFile(d / "bert.json", R"({"model_type": "bert"})");
  EXPECT_THROW(fas::ReadHfAcousticConfig(d / "bert.json"), fas::ConfigError);
  WriteFile(d / "bad.json", R"({"model_type": "hubert", "hidden_size": "big"})");
  EXPECT_THROW(fas::ReadHfAcousticConfig(d / "bad.json"), fas::ConfigError);
  WriteFile(d / "bn.json", R"({"model_type": "hubert", "conv_pos_batch_norm": true})");
  EXPECT_THROW(fas::ReadHfAcousticConfig(d / "bn.json"), fas::ConfigError);
}

}  // namespace

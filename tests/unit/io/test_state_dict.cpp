#include <gtest/gtest.h>

#include "fas/core/error.h"
#include "fas/io/state_dict.h"
#include "support/test_support.h"

namespace {

using fas::testing::TempDir;

struct BlockImpl : torch::nn::Module {
  BlockImpl() {
    proj = register_module("proj", torch::nn::Linear(3, 2));
    weight_g = register_parameter("weight_g", torch::zeros({1, 1, 4}));
    register_buffer("running", torch::zeros({2}));
  }
  torch::nn::Linear proj{nullptr};
  torch::Tensor weight_g;
};
TORCH_MODULE(Block);

struct NetImpl : torch::nn::Module {
  NetImpl() {
    encoder = register_module("encoder", Block());
    masked_spec_embed = register_parameter("masked_spec_embed", torch::full({3}, 7.0));
  }
  Block encoder{nullptr};
  torch::Tensor masked_spec_embed;
};
TORCH_MODULE(Net);

const fas::NameMap kMap = {
    {"wav2vec2.", "hubert."},
    {{"parametrizations.weight.original0", "weight_g"}},
    {"lm_head.*", "quantizer.*"},
    {"masked_spec_embed"},
};

fas::NamedTensors Checkpoint() {
  return {
      {"wav2vec2.encoder.proj.weight", torch::full({2, 3}, 1.0, torch::kFloat64)},
      {"wav2vec2.encoder.proj.bias", torch::full({2}, 2.0).to(torch::kFloat16)},
      {"wav2vec2.encoder.parametrizations.weight.original0", torch::full({1, 1, 4}, 3.0)},
      {"wav2vec2.encoder.running", torch::full({2}, 4.0)},
      {"lm_head.weight", torch::zeros({5, 2})},
      {"quantizer.codevectors", torch::zeros({1, 4, 2})},
  };
}

std::string ModelErrorOf(const std::function<void()>& f) {
  try {
    f();
  } catch (const fas::ModelError& e) {
    return e.what();
  }
  return "";
}

TEST(StateDict, GlobAndNameMapping) {
  EXPECT_TRUE(fas::GlobMatch("lm_head.*", "lm_head.weight"));
  EXPECT_TRUE(fas::GlobMatch("*.rel_attn_embed.*", "encoder.layers.0.attention.rel_attn_embed.weight"));
  EXPECT_TRUE(fas::GlobMatch("a*b*c", "aXXbYYc"));
  EXPECT_FALSE(fas::GlobMatch("lm_head.*", "xlm_head.weight"));
  EXPECT_FALSE(fas::GlobMatch("a*b", "aXXbY"));
  EXPECT_EQ(fas::MapCheckpointName(kMap, "hubert.encoder.x"), "encoder.x");
  EXPECT_EQ(fas::MapCheckpointName(kMap, "encoder.conv.parametrizations.weight.original0"), "encoder.conv.weight_g");
  // Only whole name components are aliased.
  EXPECT_EQ(fas::MapCheckpointName(kMap, "encoder.xparametrizations.weight.original0"),
            "encoder.xparametrizations.weight.original0");
}

TEST(StateDict, LoadsMappedConvertsDtypesAndReportsSkipped) {
  TempDir d;
  fas::WriteSafeTensors(d / "c.safetensors", Checkpoint());
  Net net;
  auto report = fas::LoadStateDict(*net, d / "c.safetensors", kMap);
  EXPECT_TRUE(torch::equal(net->encoder->proj->weight, torch::full({2, 3}, 1.0)));
  EXPECT_TRUE(torch::equal(net->encoder->proj->bias, torch::full({2}, 2.0)));
  EXPECT_TRUE(torch::equal(net->encoder->weight_g, torch::full({1, 1, 4}, 3.0)));
  EXPECT_TRUE(torch::equal(net->encoder->named_buffers()["running"], torch::full({2}, 4.0)));
  EXPECT_EQ(net->encoder->proj->weight.scalar_type(), torch::kFloat32);
  EXPECT_EQ(report.loaded.size(), 4u);
  EXPECT_EQ(report.skipped, (std::vector<std::string>{"lm_head.weight", "quantizer.codevectors"}));
  EXPECT_EQ(report.missing_optional, (std::vector<std::string>{"masked_spec_embed"}));
  EXPECT_TRUE(torch::equal(net->masked_spec_embed, torch::full({3}, 7.0)));  // left as initialised
}

TEST(StateDict, UnknownMissingAndWrongShapeAreErrorsNamingTheTensor) {
  auto ckpt = Checkpoint();
  ckpt.emplace_back("wav2vec2.encoder.extra", torch::zeros({1}));
  Net net;
  std::string msg = ModelErrorOf([&] { fas::LoadStateDict(*net, ckpt, kMap, "ckpt"); });
  EXPECT_NE(msg.find("unexpected tensor 'wav2vec2.encoder.extra'"), std::string::npos) << msg;

  ckpt = Checkpoint();
  ckpt.erase(ckpt.begin() + 1);
  msg = ModelErrorOf([&] { fas::LoadStateDict(*net, ckpt, kMap, "ckpt"); });
  EXPECT_NE(msg.find("missing tensor encoder.proj.bias"), std::string::npos) << msg;
  EXPECT_NE(msg.find("[2]"), std::string::npos) << msg;

  ckpt = Checkpoint();
  ckpt[0].second = torch::zeros({3, 2});
  msg = ModelErrorOf([&] { fas::LoadStateDict(*net, ckpt, kMap, "ckpt"); });
  EXPECT_NE(msg.find("'wav2vec2.encoder.proj.weight' has shape [3, 2], expected [2, 3]"), std::string::npos) << msg;

  // A skip pattern never hides a tensor the model has: shape errors still fire for it.
  fas::NameMap greedy = kMap;
  greedy.skip.push_back("*");
  ckpt = Checkpoint();
  ckpt[0].second = torch::zeros({3, 2});
  EXPECT_NE(ModelErrorOf([&] { fas::LoadStateDict(*net, ckpt, greedy, "ckpt"); }).find("expected [2, 3]"),
            std::string::npos);
  // Two checkpoint spellings of one parameter are refused, not silently overwritten.
  ckpt = Checkpoint();
  ckpt.emplace_back("encoder.weight_g", torch::zeros({1, 1, 4}));
  EXPECT_NE(ModelErrorOf([&] { fas::LoadStateDict(*net, ckpt, kMap, "ckpt"); }).find("another tensor"),
            std::string::npos);
}

TEST(StateDict, SaveThenLoadRoundTripsWithPrefix) {
  TempDir d;
  Net a, b;
  {
    torch::NoGradGuard g;
    for (auto& p : a->parameters()) p.normal_();
  }
  fas::SaveStateDict(*a, d / "s.safetensors", "wav2vec2.");
  fas::SafeTensorsFile f(d / "s.safetensors");
  EXPECT_TRUE(f.Contains("wav2vec2.encoder.proj.weight"));
  auto report = fas::LoadStateDict(*b, f, kMap);
  EXPECT_TRUE(report.missing_optional.empty());
  for (const auto& [name, t] : fas::ModuleTensors(*a)) {
    bool found = false;
    for (const auto& [n2, t2] : fas::ModuleTensors(*b)) {
      if (n2 == name) {
        found = true;
        EXPECT_TRUE(torch::equal(t, t2)) << name;
      }
    }
    EXPECT_TRUE(found) << name;
  }
}

}  // namespace

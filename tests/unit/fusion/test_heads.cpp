#include <gtest/gtest.h>
#include <torch/torch.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <map>

#include "fas/core/error.h"
#include "fas/fusion/fusion.h"

namespace {

constexpr int64_t kDa = 6, kDs = 10, kClasses = 7, kB = 3, kTa = 23, kTs = 17;

int64_t Linear(int64_t in, int64_t out) { return in * out + out; }

fas::FusionConfig SmallConfig() {
  fas::FusionConfig c;
  c.d_model = 16;
  c.num_heads = 4;
  c.patch_aco = 5;
  c.patch_sem = 2;
  c.k_aco = 3;
  c.k_sem = 4;
  return c;
}

// Rows of different lengths, with large garbage in the padding so that leaking it would show.
fas::FusionInput Batch() {
  torch::manual_seed(0);
  fas::FusionInput in;
  in.acoustic = torch::randn({kB, kTa, kDa});
  in.semantic = torch::randn({kB, kTs, kDs});
  in.acoustic_mask = torch::arange(kTa).unsqueeze(0) < torch::tensor({23, 11, 2}).unsqueeze(1);
  in.semantic_mask = torch::arange(kTs).unsqueeze(0) < torch::tensor({17, 3, 9}).unsqueeze(1);
  return in;
}

fas::FusionInput WithDifferentPadding(fas::FusionInput in) {
  in.acoustic = torch::where(in.acoustic_mask.unsqueeze(-1), in.acoustic, torch::randn_like(in.acoustic) * 1e3);
  in.semantic = torch::where(in.semantic_mask.unsqueeze(-1), in.semantic, torch::randn_like(in.semantic) * 1e3);
  return in;
}

// Trainable parameters each head should have, written out from its architecture.
int64_t ExpectedParameters(const std::string& head, const fas::FusionConfig& c, int64_t da, int64_t ds) {
  const int64_t d = c.d_model, nq = c.num_queries, h = static_cast<int64_t>(c.mlp_ratio * d + 0.5);
  const int64_t proj_a = Linear(da, d), proj_s = Linear(ds, d);
  const int64_t block = 4 * Linear(d, d) + 2 * (2 * d) + Linear(d, h) + Linear(h, d);
  auto classifier = [&](int64_t in) { return Linear(in, in / 2) + Linear(in / 2, kClasses); };
  if (head == "fas" || head == "fas_random_select") {
    const int64_t pooled = c.pooling == "flatten" ? nq * d : d;
    return proj_a + proj_s + nq * d + block + classifier(pooled);
  }
  if (head == "fas_full_attention") return proj_a + proj_s + Linear(d, 1) + classifier(d);
  if (head == "acoustic_only") return proj_a + Linear(d, 1) + classifier(d);
  if (head == "semantic_only") return proj_s + Linear(d, 1) + classifier(d);
  if (head == "concat") return proj_a + proj_s + classifier(2 * d);
  if (head == "gated") return proj_a + proj_s + Linear(2 * d, d) + classifier(d);
  if (head == "cross_attention") return proj_a + proj_s + block + classifier(d);
  if (head == "late_fusion") return proj_a + proj_s + 2 * classifier(d) + 2;
  ADD_FAILURE() << "no expectation for " << head;
  return -1;
}

TEST(Heads, EveryHeadHasItsShapeParameterCountAndIgnoresPadding) {
  const auto c = SmallConfig();
  for (const auto& name : fas::FusionHeadNames()) {
    SCOPED_TRACE(name);
    auto head = fas::MakeFusionHead(name, c, kDa, kDs, kClasses);
    EXPECT_EQ(head->name(), name);
    EXPECT_EQ(fas::CountTrainableParameters(*head), ExpectedParameters(name, c, kDa, kDs));
    head->eval();
    const auto in = Batch();
    const auto out = head->Forward(in);
    ASSERT_EQ(out.logits.sizes(), (std::vector<int64_t>{kB, kClasses}));
    EXPECT_TRUE(torch::isfinite(out.logits).all().item<bool>());
    EXPECT_TRUE(torch::allclose(out.logits, head->Forward(WithDifferentPadding(in)).logits, 1e-5, 1e-5));
    if (out.attention.defined()) {
      ASSERT_EQ(out.attention.dim(), 3);
      EXPECT_EQ(out.attention.size(2), out.token_stream.size(1));
      EXPECT_TRUE(torch::allclose(out.attention.sum(-1), torch::ones({kB, out.attention.size(1)}), 1e-5));
      // No weight on empty slots.
      EXPECT_EQ((out.attention * (out.token_stream == -1).unsqueeze(1)).sum().item<float>(), 0);
    }
    if (out.acoustic_share.defined()) {
      ASSERT_EQ(out.acoustic_share.sizes(), (std::vector<int64_t>{kB}));
      EXPECT_TRUE(((out.acoustic_share >= 0) & (out.acoustic_share <= 1)).all().item<bool>());
    }
    // Every trainable parameter takes part in the loss.
    head->train();
    head->zero_grad();
    head->Forward(in).logits.logsumexp(-1).sum().backward();
    for (const auto& p : head->named_parameters()) {
      EXPECT_TRUE(p.value().grad().defined()) << p.key();
    }
  }
}

TEST(Heads, FasAttentionCoversTheSelectedTokensOfBothStreams) {
  auto c = SmallConfig();
  auto head = fas::MakeFusionHead("fas", c, kDa, kDs, kClasses);
  head->eval();
  const auto out = head->Forward(Batch());
  ASSERT_EQ(out.attention.sizes(), (std::vector<int64_t>{kB, c.num_queries, c.k_aco + c.k_sem}));
  // Row 2 has 2 acoustic frames → 1 patch of 5: one acoustic token, two empty acoustic slots.
  EXPECT_EQ(out.token_stream[2].slice(0, 0, 3).eq(-1).sum().item<int64_t>(), 2);
  const auto share = (out.attention * (out.token_stream == 0).unsqueeze(1)).sum(-1).mean(-1);
  EXPECT_TRUE(torch::allclose(share, out.acoustic_share));
}

// The FAS head written out directly from its parameters, every stage in its plain form (inputs that require a
// gradient take Patchify's and the projection's general paths; keys and values projected token by token;
// queries expanded over the batch). Dropout is off (eval mode).
torch::Tensor PlainFasLogits(torch::nn::Module& head, const fas::FusionConfig& c, const fas::FusionInput& in) {
  const auto p = head.named_parameters();
  namespace F = torch::nn::functional;
  auto linear = [&](const torch::Tensor& x, const std::string& name) {
    return F::linear(x, p[name + ".weight"], p[name + ".bias"]);
  };
  auto norm = [&](const torch::Tensor& x, const std::string& name) {
    return F::layer_norm(x, F::LayerNormFuncOptions({c.d_model}).weight(p[name + ".weight"]).bias(p[name + ".bias"]));
  };
  auto stream = [&](const torch::Tensor& x, const torch::Tensor& mask, int64_t s, const std::string& proj, int64_t k) {
    auto [patches, m] = fas::Patchify(x.clone().requires_grad_(true), mask, s);
    return fas::TopKByEnergy(linear(patches, proj), m, k);
  };
  const auto a = stream(in.acoustic, in.acoustic_mask, c.patch_aco, "acoustic_proj", c.k_aco);
  const auto s = stream(in.semantic, in.semantic_mask, c.patch_sem, "semantic_proj", c.k_sem);
  const auto tokens = torch::cat({a.tokens, s.tokens}, 1);
  const auto mask = torch::cat({a.mask, s.mask}, 1);
  const int64_t B = tokens.size(0), N = tokens.size(1), h = c.num_heads, hd = c.d_model / h;
  const auto x = p["queries"].unsqueeze(0).expand({B, -1, -1});
  auto heads = [&](const torch::Tensor& t) { return t.view({B, t.size(1), h, hd}).transpose(1, 2); };
  const auto q = heads(linear(x, "block.attention.q_proj"));
  const auto k = heads(linear(tokens, "block.attention.k_proj"));
  const auto v = heads(linear(tokens, "block.attention.v_proj"));
  const auto w = (torch::matmul(q, k.transpose(-2, -1)) / std::sqrt(static_cast<double>(hd)))
                     .masked_fill(~mask.view({B, 1, 1, N}), -std::numeric_limits<double>::infinity())
                     .softmax(-1);
  const auto attended =
      linear(torch::matmul(w, v).transpose(1, 2).reshape({B, c.num_queries, c.d_model}), "block.attention.out_proj");
  auto hidden = norm(x + attended, "block.attention_norm");
  hidden = norm(hidden + linear(F::gelu(linear(hidden, "block.mlp.0")), "block.mlp.3"), "block.mlp_norm");
  return linear(F::gelu(linear(hidden.flatten(1), "classifier.0")), "classifier.3");
}

// The FAS head in double precision and eval mode (no dropout), and Batch() in double precision: what the fast
// paths are compared with the plain form in.
std::shared_ptr<fas::FusionHeadImpl> DoubleFasHead(const fas::FusionConfig& c) {
  auto head = fas::MakeFusionHead("fas", c, kDa, kDs, kClasses);
  head->to(torch::kDouble);
  head->eval();
  return head;
}

fas::FusionInput DoubleBatch() {
  fas::FusionInput in = Batch();
  in.acoustic = in.acoustic.to(torch::kDouble);
  in.semantic = in.semantic.to(torch::kDouble);
  return in;
}

TEST(Heads, FasOnCachedFeaturesHasTheLogitsAndGradientsOfItsPlainForm) {
  // On constant features the head runs its fast paths (one-pass Patchify, the projection's weight gradient from
  // the kept rows only, attention with W_k / W_v moved onto the shared queries); in double precision they give
  // what the plain formulation gives.
  const auto c = SmallConfig();
  auto head = DoubleFasHead(c);
  const fas::FusionInput in = DoubleBatch();
  auto grads = [&](const torch::Tensor& logits) {
    head->zero_grad();
    logits.logsumexp(-1).sum().backward();
    std::map<std::string, torch::Tensor> g;
    for (const auto& p : head->named_parameters()) g[p.key()] = p.value().grad().clone();
    return g;
  };
  const auto fast_logits = head->Forward(in).logits;
  const auto fast = grads(fast_logits);
  const auto plain_logits = PlainFasLogits(*head, c, in);
  const auto plain = grads(plain_logits);
  EXPECT_TRUE(torch::allclose(fast_logits, plain_logits, 1e-12, 1e-12));
  for (const auto& [name, g] : plain) {
    EXPECT_TRUE(torch::allclose(fast.at(name), g, 1e-10, 1e-12))
        << name << ": max difference " << (fast.at(name) - g).abs().max().item<double>();
  }
}

TEST(Heads, FasGivesTrainedFeaturesTheGradientOfItsPlainForm) {
  // Features that come out of something trained (the acoustic layer mix over cached states, a fine-tuned encoder)
  // get their gradient from the kept rows alone, as the projection's weight does; it is the plain form's.
  const auto c = SmallConfig();
  auto head = DoubleFasHead(c);
  fas::FusionInput in = DoubleBatch();
  in.acoustic.requires_grad_(true);
  in.semantic.requires_grad_(true);
  auto input_grads = [&](const torch::Tensor& logits) {
    head->zero_grad();
    in.acoustic.mutable_grad() = torch::Tensor();
    in.semantic.mutable_grad() = torch::Tensor();
    logits.logsumexp(-1).sum().backward();
    return std::make_pair(in.acoustic.grad().clone(), in.semantic.grad().clone());
  };
  const auto [fast_acoustic, fast_semantic] = input_grads(head->Forward(in).logits);
  const auto [plain_acoustic, plain_semantic] = input_grads(PlainFasLogits(*head, c, in));
  EXPECT_GT(fast_acoustic.abs().max().item<double>(), 0.0);
  EXPECT_TRUE(torch::allclose(fast_acoustic, plain_acoustic, 1e-10, 1e-12));
  EXPECT_TRUE(torch::allclose(fast_semantic, plain_semantic, 1e-10, 1e-12));
}

// energy: raw ranks the patches before the projection. Under a projection that keeps the ranking (a scaled
// identity-like map, zero bias) it selects what `projected` selects, so the logits agree; under one that reorders
// the patches (it scales one input dimension up and the others down) they differ. Padding never leaks either way.
TEST(Heads, RawEnergyRanksPatchesBeforeTheProjection) {
  auto c = SmallConfig();
  auto projected = fas::MakeFusionHead("fas", c, kDa, kDs, kClasses);
  c.energy = "raw";
  auto raw = fas::MakeFusionHead("fas", c, kDa, kDs, kClasses);
  projected->eval();
  raw->eval();
  torch::NoGradGuard no_grad;
  auto copy_into = [&](const std::vector<float>& acoustic_scale) {
    for (auto& p : raw->named_parameters()) {
      torch::Tensor w = projected->named_parameters()[p.key()];
      if (p.key() == "acoustic_proj.weight" || p.key() == "semantic_proj.weight") {
        w.zero_();
        const int64_t in = w.size(1);
        for (int64_t i = 0; i < std::min<int64_t>(in, w.size(0)); ++i) {
          w[i][i] = p.key()[0] == 'a' ? acoustic_scale[static_cast<size_t>(i)] : 1.0f;
        }
      }
      if (p.key() == "acoustic_proj.bias" || p.key() == "semantic_proj.bias") w.zero_();
      p.value().copy_(w);
    }
  };
  const fas::FusionInput in = Batch();
  copy_into(std::vector<float>(kDa, 2.0f));
  EXPECT_TRUE(torch::allclose(raw->Forward(in).logits, projected->Forward(in).logits, 1e-5, 1e-6));
  EXPECT_TRUE(torch::allclose(raw->Forward(in).logits, raw->Forward(WithDifferentPadding(in)).logits, 1e-5, 1e-6));
  std::vector<float> reorder(kDa, 0.01f);
  reorder[0] = 100.0f;
  copy_into(reorder);
  EXPECT_FALSE(torch::allclose(raw->Forward(in).logits, projected->Forward(in).logits, 1e-3, 1e-3));
  c.energy = "loudest";
  EXPECT_THROW(fas::MakeFusionHead("fas", c, kDa, kDs, kClasses), fas::ConfigError);
}

TEST(Heads, MeanPoolingAndSingleStreamMeanPooling) {
  auto c = SmallConfig();
  c.pooling = "mean";
  c.single_stream_pooling = "mean";
  for (const std::string name : {"fas", "acoustic_only"}) {
    auto head = fas::MakeFusionHead(name, c, kDa, kDs, kClasses);
    const int64_t pooled_extra = name == "fas" ? 0 : -Linear(c.d_model, 1);  // no attentive scorer
    EXPECT_EQ(fas::CountTrainableParameters(*head), ExpectedParameters(name, c, kDa, kDs) + pooled_extra);
    EXPECT_EQ(head->Forward(Batch()).logits.sizes(), (std::vector<int64_t>{kB, kClasses}));
  }
}

TEST(Heads, RandomSelectIsDeterministicInEval) {
  auto head = fas::MakeFusionHead("fas_random_select", SmallConfig(), kDa, kDs, kClasses);
  head->eval();
  const auto in = Batch();
  EXPECT_TRUE(torch::equal(head->Forward(in).logits, head->Forward(in).logits));
}

TEST(Heads, PaperDimensionsCountAboutThePublishedFasSize) {
  // The paper: 64-d acoustic (MingTok-Audio), 1280-d Whisper-large, d = 512, N_q = 2, 7 classes: 3.45M.
  const fas::FusionConfig c;  // defaults are the paper's
  auto head = fas::MakeFusionHead("fas", c, 64, 1280, 7);
  const int64_t n = fas::CountTrainableParameters(*head);
  EXPECT_EQ(n, 3321351);
  EXPECT_NEAR(static_cast<double>(n), 3.45e6, 0.05 * 3.45e6);
  // Concat and full attention match the paper's ablation table (1.22M, 0.82M).
  EXPECT_NEAR(fas::CountTrainableParameters(*fas::MakeFusionHead("concat", c, 64, 1280, 7)), 1.22e6, 0.01e6);
  EXPECT_NEAR(fas::CountTrainableParameters(*fas::MakeFusionHead("fas_full_attention", c, 64, 1280, 7)), 0.82e6,
              0.01e6);
  for (const auto& name : fas::FusionHeadNames()) {
    std::cout << "paper dims (64-d acoustic, 1280-d Whisper, d 512, 7 classes): " << name << " "
              << fas::CountTrainableParameters(*fas::MakeFusionHead(name, c, 64, 1280, 7)) << "\n";
  }
}

TEST(Heads, RegistryListsEachHeadOnceWithTheStreamsItReadsAndADescription) {
  const auto& names = fas::FusionHeadNames();
  for (const auto& name : names) {
    SCOPED_TRACE(name);
    EXPECT_EQ(std::count(names.begin(), names.end(), name), 1);
    EXPECT_FALSE(fas::FusionHeadDescription(name).empty());
    const auto head = fas::MakeFusionHead(name, SmallConfig(), kDa, kDs, kClasses);
    EXPECT_EQ(head->uses_acoustic(), fas::FusionHeadStreams(name).acoustic);
    EXPECT_EQ(head->uses_semantic(), fas::FusionHeadStreams(name).semantic);
  }
  EXPECT_THROW(fas::FusionHeadDescription("fsa"), fas::ConfigError);
}

TEST(Heads, BadConfigAndUnknownNameAreConfigErrors) {
  auto c = SmallConfig();
  c.num_heads = 5;
  EXPECT_THROW(fas::MakeFusionHead("fas", c, kDa, kDs, kClasses), fas::ConfigError);
  EXPECT_FALSE(fas::FusionHeadStreams("acoustic_only").semantic);
  EXPECT_FALSE(fas::FusionHeadStreams("semantic_only").acoustic);
  EXPECT_TRUE(fas::FusionHeadStreams("cross_attention").acoustic && fas::FusionHeadStreams("gated").semantic);
  EXPECT_THROW(fas::FusionHeadStreams("fsa"), fas::ConfigError);
  try {
    fas::MakeFusionHead("fsa", SmallConfig(), kDa, kDs, kClasses);
    FAIL();
  } catch (const fas::ConfigError& e) {
    EXPECT_NE(std::string(e.what()).find("known: fas"), std::string::npos);
  }
}

}  // namespace

// The feature store of frozen encoders: what it stores (each utterance as the encoder gives it alone, pooled to the
// head's patches), that a head reads the same logits from it as from frames, when it computes again, and what a
// batch reads from it.
#include <gtest/gtest.h>
#include <spdlog/sinks/ringbuffer_sink.h>
#include <spdlog/spdlog.h>
#include <torch/torch.h>

#include <cmath>
#include <future>
#include <numeric>

#include "fas/audio/audio.h"
#include "fas/config/binder.h"
#include "fas/core/error.h"
#include "fas/tasks/ser/experiment_config.h"
#include "fas/tasks/ser/feature_cache.h"
#include "fas/tasks/ser/ser_dataset.h"
#include "ser_fixtures.h"
#include "support/test_support.h"

using fas::testing::AcousticOnlyConfig;
using fas::testing::TempDir;
using fas::testing::TinyAcousticRun;
using fas::testing::WriteNoiseCorpus;

namespace {

constexpr int kUtterances = 6;

class FeatureCacheTest : public ::testing::Test {
 protected:
  void SetUp() override {
    torch::set_num_threads(1);
    WriteNoiseCorpus(dir_, "train.jsonl", kUtterances);
    Configure({});
  }
  // The tiny acoustic_only run with a frozen encoder, three hidden states mixed, 5-frame patches.
  void Configure(const std::vector<std::string>& more) {
    std::vector<std::string> sets = TinyAcousticRun(dir_, "train.jsonl");
    sets.insert(sets.end(), {"model.acoustic.encoder.freeze=all", "model.acoustic.layers=[0,1,-1]",
                             "model.fusion.patch_aco=5", "model.acoustic.encoder.num_hidden_layers=2"});
    sets.insert(sets.end(), more.begin(), more.end());
    cfg_ = fas::LoadExperimentConfig({AcousticOnlyConfig()}, sets);
  }
  fas::SerModel Model(uint64_t seed) const {
    torch::manual_seed(seed);
    fas::SerModel model = fas::BuildModel(cfg_.model, fas::CanonicalLabels());
    // A layer mix far from uniform, so that a wrong order of mixing and pooling shows.
    for (auto& p : model->named_parameters()) {
      if (p.key().find("layer_logits") != std::string::npos) p.value().data().copy_(torch::randn(p.value().sizes()));
    }
    model->eval();
    return model;
  }
  fas::SerDataset Data() const {
    return fas::SerDataset(dir_ / "train.jsonl", fas::CanonicalLabels(), fas::SerDatasetOptions{});
  }
  fas::FeatureCache Cache(fas::SerModel model, fas::FeatureStoreOptions o = {}) const {
    o.batch_seconds = 100;  // every utterance in one padded batch: batching is what the checks below exercise
    return fas::FeatureCache(dir_ / "cache", std::move(model), cfg_.data.loader, o);
  }
  // Utterance i encoded alone, at its own length: the frames [S, T, D].
  torch::Tensor Alone(fas::SerModel& model, const fas::SerDataset& data, int64_t i) const {
    torch::NoGradGuard no_grad;
    const std::vector<float> samples = data.LoadUtterance(i, cfg_.data.loader);
    fas::SerInput one;
    one.waveform = torch::tensor(samples).unsqueeze(0);
    one.lengths = torch::tensor(std::vector<int64_t>{static_cast<int64_t>(samples.size())});
    return model->EncodeAcoustic(one).states[0];
  }
  TempDir dir_;
  fas::ExperimentConfig cfg_;
};

TEST_F(FeatureCacheTest, FillsOnceThenReuses) {
  const fas::SerDataset data = Data();
  fas::FeatureCache cache = Cache(Model(1));
  ASSERT_TRUE(cache.enabled());
  EXPECT_TRUE(cache.acoustic());
  EXPECT_FALSE(cache.semantic());  // acoustic_only reads no semantic pathway
  fas::CacheFillStats s = cache.Fill(data);
  EXPECT_EQ(s.computed, kUtterances);
  EXPECT_EQ(s.reused, 0);
  s = cache.Fill(data);
  EXPECT_EQ(s.computed, 0);
  EXPECT_EQ(s.reused, kUtterances);
  const fas::ShardStore store(cache.StoreDir(false), "");
  EXPECT_EQ(store.shards(), 1);
  EXPECT_EQ(store.size(), kUtterances);
}

// Each stored entry is the utterance encoded alone, pooled to the head's patches, whatever its batch-mates in the
// extraction batch: with a layer-norm front end (padded batches, masked) and a group-norm one (each alone).
TEST_F(FeatureCacheTest, StoredFeaturesAreEachUtteranceEncodedAlone) {
  for (const std::string norm : {"layer", "group"}) {
    Configure({"model.acoustic.encoder.feat_extract_norm=" + norm, "data.cache_dir=" + dir_ / norm});
    const fas::SerDataset data = Data();
    fas::SerModel model = Model(1);
    fas::FeatureCache cache(dir_ / norm, model, cfg_.data.loader, {"float32", 1 << 20, 100});
    cache.Fill(data);
    fas::SerInput in;
    std::vector<int64_t> batch(kUtterances);
    std::iota(batch.begin(), batch.end(), 0);
    cache.Load(data, batch, in);
    EXPECT_TRUE(in.acoustic_patched);
    for (int64_t i = 0; i < kUtterances; ++i) {
      const torch::Tensor frames = Alone(model, data, i);
      const int64_t t = frames.size(1), patches = (t + 4) / 5;
      const torch::Tensor expected = fas::Patchify(frames, torch::ones({frames.size(0), t}, torch::kBool), 5).first;
      EXPECT_EQ(in.acoustic_mask[i].sum().item<int64_t>(), patches) << norm << " " << i;
      const torch::Tensor got = in.acoustic_features[i].narrow(1, 0, patches);
      EXPECT_LE((got - expected).abs().max().item<double>(), 1e-5) << norm << " " << i;
      if (patches < in.acoustic_mask.size(1)) {
        EXPECT_EQ(
            in.acoustic_features[i].narrow(1, patches, in.acoustic_mask.size(1) - patches).abs().sum().item<double>(),
            0);
      }
    }
  }
}

// The reduced store (per-layer patch means) gives the logits that the model computes from its encoder's frames.
TEST_F(FeatureCacheTest, ReducedStoreGivesTheLogitsOfFrames) {
  const fas::SerDataset data = Data();
  fas::SerModel model = Model(3);
  fas::FeatureCache cache = Cache(model);
  cache.Fill(data);
  const std::vector<int64_t> batch = {4, 0, 2};
  fas::SerInput stored;
  cache.Load(data, batch, stored);
  fas::SerInput raw;
  std::vector<std::vector<float>> waves;
  for (int64_t i : batch) waves.push_back(data.LoadUtterance(i, cfg_.data.loader));
  std::tie(raw.waveform, raw.lengths) = fas::PadWaveforms(waves);
  torch::NoGradGuard no_grad;
  const torch::Tensor from_store = model->Forward(stored).logits;
  const torch::Tensor from_frames = model->Forward(raw).logits;
  EXPECT_LE((from_store - from_frames).abs().max().item<double>(), 1e-5);
}

// Every registered head reads its streams only through patch means, and computes the same logits from them.
TEST(FeatureStoreHeads, EveryHeadGivesTheSameLogitsFromPatchMeans) {
  torch::manual_seed(5);
  fas::FusionConfig c;
  c.d_model = 32;
  c.num_heads = 4;
  c.patch_aco = 5;
  c.patch_sem = 3;
  c.k_aco = 3;
  c.k_sem = 2;
  const torch::Tensor a = torch::randn({3, 23, 12}), s = torch::randn({3, 10, 8});
  const torch::Tensor am = torch::arange(23).unsqueeze(0) < torch::tensor({23, 17, 4}).unsqueeze(1);
  const torch::Tensor sm = torch::arange(10).unsqueeze(0) < torch::tensor({7, 10, 1}).unsqueeze(1);
  // Patch means taken utterance by utterance, as the store keeps them, then padded into a batch.
  auto pooled = [](const torch::Tensor& x, const torch::Tensor& m, int64_t w) {
    const int64_t longest = (x.size(1) + w - 1) / w;
    torch::Tensor out = torch::zeros({x.size(0), longest, x.size(2)});
    torch::Tensor mask = torch::zeros({x.size(0), longest}, torch::kBool);
    for (int64_t b = 0; b < x.size(0); ++b) {
      const int64_t t = m[b].sum().item<int64_t>();
      const torch::Tensor p =
          fas::Patchify(x[b].narrow(0, 0, t).unsqueeze(0), torch::ones({1, t}, torch::kBool), w).first[0];
      out[b].narrow(0, 0, p.size(0)).copy_(p);
      mask[b].narrow(0, 0, p.size(0)).fill_(true);
    }
    return std::make_pair(out, mask);
  };
  const auto [pa, pam] = pooled(a, am, 5);
  const auto [ps, psm] = pooled(s, sm, 3);
  for (const std::string& name : fas::FusionHeadNames()) {
    auto head = fas::MakeFusionHead(name, c, 12, 8, 7);
    head->eval();
    EXPECT_TRUE(head->reads_patches()) << name;
    torch::NoGradGuard no_grad;
    const torch::Tensor frames = head->Forward({a, am, s, sm}).logits;
    fas::FusionInput patched{pa, pam, ps, psm};
    patched.acoustic_patched = patched.semantic_patched = true;
    EXPECT_LE((head->Forward(patched).logits - frames).abs().max().item<double>(), 1e-5) << name;
  }
}

// Other encoder weights or another stored dtype is another store; the same key is the same store, reused, and the
// log says which.
TEST_F(FeatureCacheTest, AChangedKeyRebuildsAnUnchangedOneIsReused) {
  const fas::SerDataset data = Data();
  fas::FeatureCache first = Cache(Model(1));
  first.Fill(data);
  fas::FeatureCache other_weights = Cache(Model(2));
  EXPECT_NE(other_weights.StoreDir(false), first.StoreDir(false));
  EXPECT_EQ(other_weights.Fill(data).computed, kUtterances);
  fas::FeatureCache bf16 = Cache(Model(1), {"bfloat16"});
  EXPECT_NE(bf16.StoreDir(false), first.StoreDir(false));
  EXPECT_EQ(bf16.Fill(data).computed, kUtterances);

  auto sink = std::make_shared<spdlog::sinks::ringbuffer_sink_mt>(16);
  spdlog::default_logger()->sinks().push_back(sink);
  fas::FeatureCache same = Cache(Model(1));
  const fas::CacheFillStats s = same.Fill(data);
  spdlog::default_logger()->sinks().pop_back();
  EXPECT_EQ(same.StoreDir(false), first.StoreDir(false));
  EXPECT_EQ(s.computed, 0);
  std::string log;
  for (const auto& line : sink->last_formatted()) log += line;
  EXPECT_NE(log.find("feature store " + first.StoreDir(false) + " (acoustic layers [0,1,-1], patch 5, float32): " +
                     std::to_string(kUtterances) + " of " + std::to_string(kUtterances) +
                     " entries of train.jsonl "
                     "reused"),
            std::string::npos)
      << log;
}

// bfloat16 halves the store; what a batch reads differs from float32 by bfloat16's rounding only.
TEST_F(FeatureCacheTest, Bfloat16StoresWithinItsRounding) {
  const fas::SerDataset data = Data();
  fas::SerModel model = Model(1);
  fas::FeatureCache f32 = Cache(model), bf16 = Cache(model, {"bfloat16"});
  f32.Fill(data);
  bf16.Fill(data);
  fas::SerInput a, b;
  f32.Load(data, {1, 5}, a);
  bf16.Load(data, {1, 5}, b);
  EXPECT_EQ(b.acoustic_features.scalar_type(), torch::kFloat32);
  const double scale = a.acoustic_features.abs().max().item<double>();
  EXPECT_LE((a.acoustic_features - b.acoustic_features).abs().max().item<double>(), scale / 128);
}

// Two extractions of one key at once: the second waits for the first's lock, then finds every entry there.
TEST_F(FeatureCacheTest, TwoExtractionsOfOneKeyComputeEachEntryOnce) {
  const fas::SerDataset data = Data();
  fas::FeatureCache one = Cache(Model(1)), two = Cache(Model(1));
  auto first = std::async(std::launch::async, [&] { return one.Fill(data).computed; });
  auto second = std::async(std::launch::async, [&] { return two.Fill(data).computed; });
  EXPECT_EQ(first.get() + second.get(), kUtterances);
  const fas::ShardStore store(one.StoreDir(false), "");
  EXPECT_EQ(store.size(), kUtterances);
  EXPECT_EQ(fas::testing::JsonLines(one.StoreDir(false) + "/index.jsonl").size(), 1u);
}

// Undecodable audio: with skip_bad it is listed and left out of the store; without, one error saying so.
TEST_F(FeatureCacheTest, BadAudioIsSkippedWithSkipBadOnly) {
  std::vector<float> nan(4800, 0.1f);
  nan[100] = std::nanf("");
  fas::AudioWriteOptions float_wav;
  float_wav.subtype = "FLOAT";
  fas::WriteAudio(dir_ / "train.jsonl.u2.wav", nan, 16000, float_wav);
  const fas::SerDataset data(dir_ / "train.jsonl", fas::CanonicalLabels(), fas::SerDatasetOptions{});
  try {
    Cache(Model(1)).Fill(data);
    FAIL() << "no error";
  } catch (const fas::DataError& e) {
    EXPECT_NE(std::string(e.what()).find("--skip-bad"), std::string::npos) << e.what();
  }
  cfg_.data.loader.skip_bad = true;
  fas::FeatureCache cache = Cache(Model(1));
  const fas::CacheFillStats s = cache.Fill(data);
  ASSERT_EQ(s.skipped.size(), 1u);
  EXPECT_EQ(s.skipped[0].id, "u2");
  EXPECT_EQ(s.computed, kUtterances - 1);
  EXPECT_FALSE(cache.Has(data, 2));
  EXPECT_TRUE(cache.Has(data, 3));
}

// What training may read when crops or augmentation change the audio: only a text pathway, never audio.
TEST_F(FeatureCacheTest, TextOnlyDropsAudioPathways) {
  const fas::FeatureCache cache = Cache(Model(1));
  const fas::FeatureCache text = cache.TextOnly();
  EXPECT_FALSE(text.acoustic());
  EXPECT_FALSE(text.enabled());
}

}  // namespace

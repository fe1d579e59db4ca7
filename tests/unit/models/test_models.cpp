#include <gtest/gtest.h>
#include <torch/torch.h>

#include <filesystem>
#include <set>

#include "fas/config/binder.h"
#include "fas/core/error.h"
#include "fas/io/state_dict.h"
#include "fas/models/ser_model.h"
#include "fas/text/tokenizer.h"
#include "support/test_support.h"

namespace {

namespace fs = std::filesystem;

std::string ModelsDir() { return fas::testing::SourceDir() + "/configs/models"; }

fas::ModelConfig ShippedModelConfig(const std::string& name, const std::vector<std::string>& sets = {}) {
  const fas::ConfigNode root = fas::LoadConfigTree({ModelsDir() + "/" + name + ".yaml"}, sets);
  const fas::ConfigNode* model = root.Find("model");
  if (model == nullptr) throw fas::ConfigError(name + ".yaml has no model section");
  fas::ModelConfig c;
  fas::ConfigReader::Read(*model, "model", c);
  return c;
}

// One tokenizer for the whole binary (training one takes a moment).
const std::string& TokenizerModel() {
  static fas::testing::TempDir dir;
  static const std::string path = [] {
    std::vector<std::string> texts;
    const std::vector<std::string> words = {"great", "just", "what", "a", "day", "i", "am", "so", "happy", "sad",
                                            "angry", "this", "is", "terrible", "wonderful", "news", "okay", "fine"};
    for (int i = 0; i < 200; ++i) {
      std::string t;
      for (int j = 0; j < 6; ++j) t += words[(i * 7 + j * 5) % words.size()] + " ";
      texts.push_back(t);
    }
    fas::TokenizerTrainOptions o;
    o.prefix = dir / "spm";
    o.vocab_size = 40;
    return fas::TrainTokenizer(texts, o);
  }();
  return path;
}

fas::ModelConfig SmallConfig(const std::string& head) {
  fas::ModelConfig c = ShippedModelConfig(head);
  c.fusion.d_model = 32;
  c.acoustic.encoder.hidden_size = 32;
  c.acoustic.encoder.intermediate_size = 64;
  c.acoustic.encoder.conv_dim.assign(c.acoustic.encoder.conv_kernel.size(), 16);
  c.semantic.text.hidden_size = 32;
  c.semantic.text.intermediate_size = 64;
  c.semantic.tokenizer.model = TokenizerModel();
  return c;
}

const fas::LabelSet& Labels() {
  static const fas::LabelSet l{"canonical", {"neutral", "happy", "sad", "angry", "surprise", "fear", "disgust"}};
  return l;
}

fas::SerInput RawBatch(const fas::SerModel& model) {
  torch::manual_seed(1);
  fas::SerInput in;
  in.waveform = torch::randn({2, 16000}) * 0.1;
  in.lengths = torch::tensor({16000, 9000}, torch::kLong);
  if (model->uses_semantic() && model->config().semantic.type == "text") {
    const fas::TokenBatch t = model->Tokenize({"what a wonderful day", "okay"});
    in.input_ids = t.input_ids;
    in.attention_mask = t.attention_mask;
  }
  return in;
}

TEST(ModelConfigs, EveryShippedModelConfigBindsWithoutUnknownKeysAndValidates) {
  int n = 0;
  for (const auto& e : fs::directory_iterator(ModelsDir())) {
    if (e.path().extension() != ".yaml") continue;
    SCOPED_TRACE(e.path().string());
    const fas::ModelConfig c = ShippedModelConfig(e.path().stem().string());
    EXPECT_NO_THROW(c.Validate());
    ++n;
  }
  EXPECT_GE(n, 9);  // base + fas + 7 baselines
  EXPECT_EQ(ShippedModelConfig("gated").head, "gated");
  EXPECT_THROW(ShippedModelConfig("fas", {"model.fusion.k_acoustic=3"}), fas::ConfigError);
}

TEST(SerModel, EveryHeadBuildsRunsRawAndCachedInputsAlike) {
  for (const auto& head : fas::FusionHeadNames()) {
    SCOPED_TRACE(head);
    fas::SerModel model = fas::BuildModel(SmallConfig(head), Labels());
    model->eval();
    const fas::SerInput raw = RawBatch(model);
    const fas::SerOutput out = model->Forward(raw);
    ASSERT_EQ(out.logits.sizes(), (std::vector<int64_t>{2, 7}));
    EXPECT_TRUE(torch::isfinite(out.logits).all().item<bool>());
    EXPECT_EQ(model->uses_acoustic(), head != "semantic_only");
    EXPECT_EQ(model->uses_semantic(), head != "acoustic_only");

    // What a feature cache would store, fed back: the same logits.
    fas::SerInput cached;
    if (model->uses_acoustic()) {
      const fas::StreamFeatures a = model->EncodeAcoustic(raw);
      EXPECT_EQ(a.states.dim(), 4);
      cached.acoustic_features = a.states;
      cached.acoustic_mask = a.mask;
    }
    if (model->uses_semantic()) {
      const fas::StreamFeatures s = model->EncodeSemantic(raw);
      cached.semantic_features = s.states;
      cached.semantic_mask = s.mask;
    }
    EXPECT_TRUE(torch::allclose(model->Forward(cached).logits, out.logits, 1e-5, 1e-5));

    // Parameter report adds up; groups cover every trainable parameter once.
    const auto report = model->ParameterReport();
    int64_t parts = 0;
    for (const auto& [name, count] : report) parts += name == "total" ? 0 : count;
    EXPECT_EQ(parts, model->NumTrainableParameters());
    const fas::ParameterGroups g = model->Groups();
    int64_t grouped = 0;
    for (const auto* list : {&g.encoder, &g.head}) {
      for (const auto& p : *list) grouped += p.numel();
    }
    EXPECT_EQ(grouped, model->NumTrainableParameters());
    EXPECT_EQ(report[3].second, fas::CountTrainableParameters(model->head()));
  }
}

TEST(SerModel, WhisperSemanticPathwayReadsTheAudio) {
  fas::ModelConfig c = SmallConfig("fas");
  c.semantic.type = "whisper";
  c.semantic.whisper.d_model = 32;
  c.semantic.whisper.encoder_layers = 1;
  c.semantic.whisper.encoder_ffn_dim = 64;
  c.semantic.whisper.framing = "variable";
  c.semantic.whisper.freeze = true;
  fas::SerModel model = fas::BuildModel(c, Labels());
  EXPECT_TRUE(model->semantic_frozen());
  model->eval();
  const fas::SerInput raw = RawBatch(model);  // waveforms only: Whisper needs no transcript
  ASSERT_FALSE(raw.input_ids.defined());
  const fas::SerOutput out = model->Forward(raw);
  ASSERT_EQ(out.logits.sizes(), (std::vector<int64_t>{2, 7}));
  const fas::StreamFeatures s = model->EncodeSemantic(raw);
  EXPECT_EQ(s.states.size(3), 32);
  EXPECT_THROW(model->Tokenize({"x"}), fas::ModelError);
}

TEST(SerModel, FrozenAcousticEncoderIsCacheableAndOutOfTheGroups) {
  fas::ModelConfig c = SmallConfig("fas");
  c.acoustic.encoder.freeze = "all";
  fas::SerModel model = fas::BuildModel(c, Labels());
  EXPECT_TRUE(model->acoustic_frozen());
  EXPECT_FALSE(model->semantic_frozen());
  model->train();
  int64_t encoder = 0;
  for (const auto& p : model->Groups().encoder) encoder += p.numel();
  EXPECT_EQ(encoder, model->ParameterReport()[1].second);  // only the (trainable) text encoder
  EXPECT_EQ(model->ParameterReport()[0].second, 0);
  // The frozen encoder stays in eval mode under model->train(): two encodings agree (no dropout, no masking).
  const fas::SerInput raw = RawBatch(model);
  EXPECT_TRUE(torch::equal(model->EncodeAcoustic(raw).states, model->EncodeAcoustic(raw).states));
}

// An utterance's acoustic features do not depend on its batch-mates: a group-norm front end (wav2vec2-base style,
// no attention mask) encodes each utterance of a padded batch alone; a layer-norm one (large style) is masked.
// So `fas eval` (padded batches), a run's own evaluation and the feature cache (one utterance at a time) agree.
TEST(SerModel, AcousticFeaturesDoNotDependOnBatchMates) {
  for (const std::string norm : {"group", "layer"}) {
    SCOPED_TRACE(norm);
    fas::ModelConfig c = SmallConfig("acoustic_only");
    c.acoustic.encoder.feat_extract_norm = norm;
    c.acoustic.encoder.do_stable_layer_norm = norm == "layer";
    fas::SerModel model = fas::BuildModel(c, Labels());
    model->eval();
    torch::NoGradGuard no_grad;
    const fas::SerInput batch = RawBatch(model);
    const fas::StreamFeatures both = model->EncodeAcoustic(batch);
    fas::SerInput one;
    one.waveform = batch.waveform.slice(0, 1, 2).narrow(1, 0, 9000);
    one.lengths = torch::tensor({9000}, torch::kLong);
    const fas::StreamFeatures alone = model->EncodeAcoustic(one);
    const int64_t frames = alone.states.size(2);
    EXPECT_EQ(both.mask[1].sum().item<int64_t>(), frames);
    const double err = (both.states[1].narrow(1, 0, frames) - alone.states[0]).abs().max().item<double>();
    EXPECT_LT(err, 1e-5);
  }
}

// MingTok-Audio as the acoustic pathway (encoder.type mingtok_audio reads model.acoustic.mingtok_audio): frozen, so
// cacheable; its 16-d latent mean (the fixture's latent_dim) is what the head reads, and an utterance's features
// are the same in a padded batch as alone (the backbone is causal).
TEST(SerModel, MingTokAudioAcousticPathway) {
  fas::ModelConfig c = SmallConfig("acoustic_only");
  c.acoustic.encoder.type = "mingtok_audio";
  const std::string fixture = fas::testing::SourceDir() + "/tests/fixtures/mingtok_audio/";
  c.acoustic.mingtok_audio.hf_config = fixture + "config.json";
  c.acoustic.mingtok_audio.weights = fixture + "model.safetensors";
  c.acoustic.mingtok_audio.freeze = true;
  fas::SerModel model = fas::BuildModel(c, Labels());
  EXPECT_TRUE(model->acoustic_frozen());
  model->eval();
  torch::NoGradGuard no_grad;
  const fas::SerInput batch = RawBatch(model);
  const fas::StreamFeatures both = model->EncodeAcoustic(batch);
  EXPECT_EQ(both.states.sizes(), (std::vector<int64_t>{2, 1, 50, 16}));  // 1 s at 50 Hz
  fas::SerInput one;
  one.waveform = batch.waveform.slice(0, 1, 2).narrow(1, 0, 9000);
  one.lengths = torch::tensor({9000}, torch::kLong);
  const fas::StreamFeatures alone = model->EncodeAcoustic(one);
  EXPECT_EQ(both.mask[1].sum().item<int64_t>(), 29);  // ceil(9000 / 320)
  EXPECT_LT((both.states[1].narrow(1, 0, 29) - alone.states[0]).abs().max().item<double>(), 1e-5);
  fas::SerInput cached;
  cached.acoustic_features = both.states;
  cached.acoustic_mask = both.mask;
  EXPECT_TRUE(torch::allclose(model->Forward(cached).logits, model->Forward(batch).logits, 1e-5, 1e-5));
}

// Modality dropout: the configured rates, never both pathways of one example, and a function of the generator's
// state (the trainer seeds it per batch, so a resumed run draws the same).
TEST(ModalityDropout, RatesNeverBothDeterministic) {
  torch::manual_seed(3);
  const auto [ka, ks] = fas::DrawModalityDropout(20000, 0.2, 0.3);
  EXPECT_NEAR(1 - ka.mean().item<double>(), 0.2, 0.01);
  EXPECT_NEAR(1 - ks.mean().item<double>(), 0.3, 0.01);
  EXPECT_EQ(((ka == 0) & (ks == 0)).sum().item<int64_t>(), 0);
  torch::manual_seed(3);
  const auto [ka2, ks2] = fas::DrawModalityDropout(20000, 0.2, 0.3);
  EXPECT_TRUE(torch::equal(ka, ka2));
  EXPECT_TRUE(torch::equal(ks, ks2));
}

// A dropped pathway reaches the head as zeros, for that example only.
TEST(SerModel, ModalityDropoutZeroesTheDroppedPathway) {
  fas::SerModel model = fas::BuildModel(SmallConfig("concat"), Labels());
  model->eval();
  torch::NoGradGuard no_grad;
  const fas::SerInput raw = RawBatch(model);
  const fas::StreamFeatures a = model->EncodeAcoustic(raw), s = model->EncodeSemantic(raw);
  fas::SerInput cached;
  cached.acoustic_features = a.states;
  cached.acoustic_mask = a.mask;
  cached.semantic_features = s.states;
  cached.semantic_mask = s.mask;
  fas::SerInput dropped = cached;
  dropped.keep_acoustic = torch::tensor({0.0f, 1.0f});
  fas::SerInput zeroed = cached;
  zeroed.acoustic_features = a.states.clone();
  zeroed.acoustic_features[0].zero_();
  const torch::Tensor full = model->Forward(cached).logits, got = model->Forward(dropped).logits;
  EXPECT_TRUE(torch::allclose(got, model->Forward(zeroed).logits, 1e-6, 1e-6));
  EXPECT_TRUE(torch::allclose(got[1], full[1], 1e-6, 1e-6));
  EXPECT_FALSE(torch::allclose(got[0], full[0], 1e-6, 1e-6));
}

// An encoder that unfreezes after N steps is in the groups from the start, by structure: the groups (and so the
// optimiser's layout) are the same before and after it unfreezes, and hold what will train (freeze: all relaxes
// to feature_extractor, so the conv front end never trains).
TEST(SerModel, EncoderThatUnfreezesLaterIsInTheGroupsFromTheStart) {
  for (const std::string freeze : {"all", "feature_extractor"}) {
    SCOPED_TRACE(freeze);
    fas::ModelConfig c = SmallConfig("acoustic_only");
    c.acoustic.encoder.freeze = freeze;
    c.acoustic.encoder.unfreeze_after_steps = 2;
    fas::SerModel model = fas::BuildModel(c, Labels());
    auto names = [&](const std::vector<torch::Tensor>& group) {
      std::set<std::string> out;
      for (const auto& item : model->named_parameters()) {
        for (const auto& p : group) {
          if (p.is_same(item.value())) out.insert(item.key());
        }
      }
      return out;
    };
    const std::set<std::string> before = names(model->Groups().encoder);
    int64_t transformer = 0, front_end = 0;
    for (const auto& item : model->named_parameters()) {
      const std::string& name = item.key();
      if (name.rfind("acoustic_encoder.encoder.", 0) == 0) {
        ++transformer;
        EXPECT_EQ(before.count(name), 1u) << name;
      }
      if (name.rfind("acoustic_encoder.feature_extractor.", 0) == 0) {
        ++front_end;
        EXPECT_EQ(before.count(name), freeze == "all" ? 0u : 1u) << name;
      }
    }
    EXPECT_GT(transformer, 0);
    EXPECT_GT(front_end, 0);
    model->OnTrainStep(2);
    EXPECT_EQ(names(model->Groups().encoder), before);
    for (const auto& item : model->named_parameters()) {
      if (before.count(item.key()) != 0) {
        EXPECT_TRUE(item.value().requires_grad()) << item.key();
      }
    }
  }
}

TEST(SerModel, LayerWeightedSumTrainsOnCachedFeatures) {
  fas::ModelConfig c = SmallConfig("acoustic_only");
  c.acoustic.layers = {0, 1, -1};
  fas::SerModel model = fas::BuildModel(c, Labels());
  const fas::SerInput raw = RawBatch(model);
  const fas::StreamFeatures a = model->EncodeAcoustic(raw);
  ASSERT_EQ(a.states.size(1), 3);
  fas::SerInput cached;
  cached.acoustic_features = a.states.detach();
  cached.acoustic_mask = a.mask;
  model->Forward(cached).logits.sum().backward();
  bool found = false;
  for (const auto& p : model->named_parameters()) {
    if (p.key().rfind("acoustic_layer_weights.", 0) == 0) {
      found = true;
      EXPECT_GT(p.value().grad().abs().sum().item<float>(), 0);
    }
  }
  EXPECT_TRUE(found);
  // A cache written with another layer selection is refused with the shape it expected.
  cached.acoustic_features = a.states.select(1, 0);
  EXPECT_THROW(model->Forward(cached), fas::DataError);
}

TEST(SerModel, BadConfigsAreConfigErrors) {
  fas::ModelConfig c = SmallConfig("fas");
  c.semantic.tokenizer.model.clear();
  EXPECT_THROW(fas::BuildModel(c, Labels()), fas::ConfigError);
  c = SmallConfig("fas");
  c.semantic.type = "bert";
  EXPECT_THROW(fas::BuildModel(c, Labels()), fas::ConfigError);
  c = SmallConfig("fas");
  c.acoustic.layers = {7};
  fas::SerModel model = fas::BuildModel(c, Labels());
  EXPECT_THROW(model->Forward(RawBatch(model)), fas::ConfigError);
}

TEST(SerModel, PrepareTokenizerTrainsOnceAndPointsTheConfigAtIt) {
  fas::testing::TempDir dir;
  fas::ModelConfig c = ShippedModelConfig("fas");
  c.semantic.tokenizer_vocab_size = 30;
  std::vector<std::string> texts(50, "what a wonderful day it is today");
  for (int i = 0; i < 50; ++i) texts.push_back("nothing here is fine " + std::to_string(i % 7));
  const std::string path = fas::PrepareTokenizer(c, texts, dir.path());
  EXPECT_EQ(c.semantic.tokenizer.model, path);
  EXPECT_TRUE(fs::exists(path));
  EXPECT_EQ(fas::PrepareTokenizer(c, {}, dir / "other"), path);  // already set: untouched
  fas::ModelConfig a = ShippedModelConfig("acoustic_only");
  EXPECT_EQ(fas::PrepareTokenizer(a, texts, dir / "a"), "");
}

TEST(SerModel, InitFromCopiesAnotherRunsEncodersAndTokenizer) {
  // A stage-one run: an SER model's weights under checkpoints/best, its tokenizer in the run folder.
  fas::testing::TempDir run;
  fas::ModelConfig first = SmallConfig("fas");
  fas::SerModel trained = fas::BuildModel(first, Labels());
  fs::create_directories(run / "checkpoints/best");
  fas::SaveStateDict(*trained, run / "checkpoints/best/model.safetensors");
  fs::copy_file(TokenizerModel(), run / "tokenizer.model");

  fas::ModelConfig c = SmallConfig("concat");
  c.semantic.tokenizer.model.clear();
  c.acoustic.init_from = run.path();
  c.semantic.init_from = run.path();
  c.acoustic.encoder.freeze = "all";
  EXPECT_EQ(fas::PrepareTokenizer(c, {}, run / "unused"), run / "tokenizer.model");
  torch::manual_seed(99);  // another random init, overwritten by init_from
  fas::SerModel model = fas::BuildModel(c, Labels());
  const auto source = trained->named_parameters();
  int copied = 0;
  for (const auto& p : model->named_parameters()) {
    if (p.key().rfind("acoustic_encoder.", 0) != 0 && p.key().rfind("semantic_encoder.", 0) != 0) continue;
    EXPECT_TRUE(torch::equal(p.value(), source[p.key()])) << p.key();
    ++copied;
  }
  EXPECT_GT(copied, 20);
  EXPECT_TRUE(model->acoustic_frozen());  // loading keeps the freezing the config asks for

  // A missing run and an encoder of another shape are clear errors.
  c.acoustic.init_from = run / "nowhere";
  EXPECT_THROW(fas::BuildModel(c, Labels()), fas::IoError);
  c.acoustic.init_from = run.path();
  c.acoustic.encoder.hidden_size = 48;
  c.acoustic.encoder.num_attention_heads = 4;
  EXPECT_THROW(fas::BuildModel(c, Labels()), fas::ModelError);
}

}  // namespace

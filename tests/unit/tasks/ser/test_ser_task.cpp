#include <gtest/gtest.h>

#include <filesystem>
#include <map>
#include <set>

#include "fas/audio/audio.h"
#include "fas/config/binder.h"
#include "fas/core/error.h"
#include "fas/io/safetensors.h"
#include "fas/tasks/ser/experiment_config.h"
#include "fas/tasks/ser/ser_dataset.h"
#include "fas/tasks/ser/ser_task.h"
#include "ser_fixtures.h"
#include "support/test_support.h"

namespace fs = std::filesystem;
using fas::testing::TempDir;
using fas::testing::AcousticOnlyConfig;
using fas::testing::StoredEntries;
using fas::testing::TinyAcousticRun;
using fas::testing::WriteFile;
using fas::testing::WriteNoiseCorpus;

namespace {

// Every shipped model config binds (no unknown key) and validates, and its printed form binds again to the same.
TEST(ExperimentConfig, ShippedModelConfigsBindAndRoundTrip) {
  int n = 0;
  for (const auto& e : fs::directory_iterator(fas::testing::SourceDir() + "/configs/models")) {
    if (e.path().extension() != ".yaml") continue;
    SCOPED_TRACE(e.path().string());
    fas::ExperimentConfig c = fas::LoadExperimentConfig({e.path().string()}, {});
    EXPECT_EQ(c.task, "ser");
    TempDir d;
    WriteFile(d / "resolved.yaml", fas::ConfigToString(c));
    fas::ExperimentConfig again = fas::LoadExperimentConfig({d / "resolved.yaml"}, {});
    EXPECT_EQ(fas::ConfigToString(again), fas::ConfigToString(c));
    ++n;
  }
  EXPECT_GE(n, 1);
}

TEST(ExperimentConfig, ErrorsNameTheKey) {
  TempDir d;
  WriteFile(d / "a.yaml", "train:\n  warmpu: 0.1\n");
  try {
    fas::LoadExperimentConfig({d / "a.yaml"}, {});
    FAIL();
  } catch (const fas::ConfigError& e) {
    EXPECT_NE(std::string(e.what()).find("did you mean 'train.warmup'"), std::string::npos) << e.what();
  }
  WriteFile(d / "b.yaml", "eval:\n  - {name: test, manifest: a.jsonl}\n  - {name: test, manifest: b.jsonl}\n");
  EXPECT_THROW(fas::LoadExperimentConfig({d / "b.yaml"}, {}), fas::ConfigError);
  EXPECT_THROW(fas::LoadExperimentConfig({d / "b.yaml"}, {"eval=[]", "task=tts"}), fas::ConfigError);
  EXPECT_NO_THROW(fas::LoadExperimentConfig({d / "b.yaml"}, {"eval=[]"}));
}

// The transcript field of an SER run is one key, model.semantic.text_field: data.text_field saying something else
// is an error naming it, saying the same is accepted, and a resolved config no longer prints it. A run's
// config.yaml written before carries data.text_field (the loader's default, never read): it still loads.
TEST(ExperimentConfig, DataTextFieldIsOneKeyOrAnError) {
  try {
    fas::LoadExperimentConfig({}, {"data.text_field=text"});
    FAIL() << "data.text_field=text was accepted and ignored";
  } catch (const fas::ConfigError& e) {
    const std::string what = e.what();
    EXPECT_NE(what.find("data.text_field"), std::string::npos) << what;
    EXPECT_NE(what.find("model.semantic.text_field"), std::string::npos) << what;
  }
  EXPECT_NO_THROW(fas::LoadExperimentConfig({}, {"data.text_field=asr_text"}));
  fas::ExperimentConfig c = fas::LoadExperimentConfig({}, {"model.semantic.text_field=text", "data.text_field=text"});
  EXPECT_EQ(c.model.semantic.text_field, "text");
  const std::string printed = fas::ConfigToString(c);
  const size_t data = printed.find("\ndata:\n");
  ASSERT_NE(data, std::string::npos);
  EXPECT_EQ(printed.find("\n  text_field:", data), std::string::npos) << printed;

  TempDir d;
  WriteFile(d / "config.yaml", "model:\n  semantic:\n    text_field: text\ndata:\n  text_field: asr_text\n");
  EXPECT_THROW(fas::LoadExperimentConfig({d / "config.yaml"}, {}), fas::ConfigError);
  EXPECT_EQ(fas::LoadExperimentConfig({d / "config.yaml"}, {}, true).model.semantic.text_field, "text");
  EXPECT_THROW(fas::LoadExperimentConfig({d / "config.yaml"}, {"data.text_field=asr_text"}, true), fas::ConfigError);
}

TEST(ExperimentConfig, ManifestsResolveAgainstRoot) {
  fas::DataConfig d;
  d.root = "corpus/synth";
  EXPECT_EQ(d.Resolve("train.jsonl"), "corpus/synth/train.jsonl");
  EXPECT_EQ(d.Resolve("/abs/dev.jsonl"), "/abs/dev.jsonl");
  d.root = "";
  EXPECT_EQ(d.Resolve("train.jsonl"), "train.jsonl");
}

class SerDatasetTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const char* labels[] = {"happy", "sad", "angry", "neutral"};
    std::string lines;
    for (int i = 0; i < 21; ++i) {
      const std::string wav = "u" + std::to_string(i) + ".wav";
      fas::WriteAudio(dir_ / wav, std::vector<float>(1600 + 400 * (i % 5), 0.1f), 16000);
      lines += "{\"id\": \"u" + std::to_string(i) + "\", \"audio\": \"" + wav + "\", \"label\": \"" + labels[i % 4] +
               "\", \"asr_text\": \"words " + std::to_string(i) + "\"}\n";
    }
    WriteFile(dir_ / "m.jsonl", lines);
  }
  TempDir dir_;
};

TEST_F(SerDatasetTest, EpochBatchesDependOnlyOnSeedAndEpoch) {
  fas::SerDatasetOptions o;
  const fas::SerDataset data(dir_ / "m.jsonl", fas::CanonicalLabels(), o);
  ASSERT_EQ(data.size(), 21);
  EXPECT_EQ(data.ClassCounts(7)[fas::CanonicalLabels().Index("happy")], 6);
  fas::LoaderConfig l;
  l.batch_size = 4;
  const auto a = data.Batches(l, true, 42, 3);
  EXPECT_EQ(a, data.Batches(l, true, 42, 3));
  EXPECT_NE(a, data.Batches(l, true, 42, 4));
  EXPECT_NE(a, data.Batches(l, true, 43, 3));
  std::multiset<int64_t> seen;
  for (const auto& b : a) seen.insert(b.begin(), b.end());
  EXPECT_EQ(seen.size(), 21u);
  EXPECT_EQ(std::set<int64_t>(seen.begin(), seen.end()).size(), 21u);  // each utterance once
  // Evaluation: the same plan whatever the epoch or seed, every utterance once.
  const auto eval = data.Batches(l, false, 0, 0);
  EXPECT_EQ(eval, data.Batches(l, false, 9, 5));
  std::set<int64_t> all;
  for (const auto& b : eval) all.insert(b.begin(), b.end());
  EXPECT_EQ(all.size(), 21u);
}

TEST_F(SerDatasetTest, UtterancesDecodeAndPad) {
  fas::SerDatasetOptions o;
  o.text_field = "asr_text";
  const fas::SerDataset data(dir_ / "m.jsonl", fas::CanonicalLabels(), o);
  EXPECT_EQ(data.text(3), "words 3");
  auto [wave, lengths] = fas::PadWaveforms({data.LoadUtterance(0, {}), data.LoadUtterance(4, {})});
  EXPECT_EQ(wave.sizes(), (std::vector<int64_t>{2, 3200}));
  EXPECT_EQ(lengths[0].item<int64_t>(), 1600);
  EXPECT_NEAR(wave[0][100].item<float>(), 0.1f, 1e-3);
  EXPECT_EQ(wave[0][2000].item<float>(), 0.0f);
}

TEST_F(SerDatasetTest, UnknownLabelAndMissingTextAreClearErrors) {
  WriteFile(dir_ / "bad.jsonl", "{\"id\": \"x\", \"audio\": \"u0.wav\", \"label\": \"exc\"}\n");
  try {
    fas::SerDataset(dir_ / "bad.jsonl", fas::CanonicalLabels(), {});
    FAIL();
  } catch (const fas::Error& e) {
    EXPECT_NE(std::string(e.what()).find("bad.jsonl"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("exc"), std::string::npos) << e.what();
  }
  WriteFile(dir_ / "notext.jsonl", "{\"id\": \"x\", \"audio\": \"u0.wav\", \"label\": \"sad\"}\n");
  fas::SerDatasetOptions o;
  o.text_field = "asr_text";
  o.require_text = true;
  EXPECT_THROW(fas::SerDataset(dir_ / "notext.jsonl", fas::CanonicalLabels(), o), fas::DataError);
}

// data.label_field: text_label trains on the words' emotion (a text-emotion encoder for stage two of the synth
// suite): the target is text_label, a line without one is an error naming it, and an unknown field is refused.
TEST_F(SerDatasetTest, LabelFieldTextLabelTargetsTheWordsEmotion) {
  WriteFile(
      dir_ / "tl.jsonl",
      "{\"id\": \"a\", \"audio\": \"u0.wav\", \"label\": \"sad\", \"text_label\": \"happy\", \"conflict\": true}\n"
      "{\"id\": \"b\", \"audio\": \"u1.wav\", \"label\": \"angry\", \"text_label\": \"angry\"}\n");
  const auto& names = fas::CanonicalLabels();
  fas::SerDatasetOptions o;
  EXPECT_EQ(fas::SerDataset(dir_ / "tl.jsonl", names, o).label(0), names.Index("sad"));
  o.label_field = "text_label";
  const fas::SerDataset words(dir_ / "tl.jsonl", names, o);
  EXPECT_EQ(words.label(0), names.Index("happy"));
  EXPECT_EQ(words.label(1), names.Index("angry"));
  EXPECT_EQ(words.audio()->conflict(0), 0);
  WriteFile(dir_ / "none.jsonl", "{\"id\": \"x\", \"audio\": \"u0.wav\", \"label\": \"sad\"}\n");
  try {
    fas::SerDataset(dir_ / "none.jsonl", names, o);
    FAIL();
  } catch (const fas::DataError& e) {
    EXPECT_NE(std::string(e.what()).find("none.jsonl:1"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("text_label"), std::string::npos) << e.what();
  }
  o.label_field = "tone";
  EXPECT_THROW(fas::SerDataset(dir_ / "tl.jsonl", names, o), fas::ConfigError);
  EXPECT_THROW(fas::LoadExperimentConfig({}, {"data.label_field=tone"}), fas::ConfigError);
  EXPECT_EQ(fas::LoadExperimentConfig({}, {"data.label_field=text_label"}).data.label_field, "text_label");
}

// freeze: all + unfreeze_after_steps through TrainExperiment (what `fas train` runs): the encoder's transformer
// is in the optimiser from the start, so it trains once unfrozen, also across a resume at the unfreezing step;
// the conv front end stays frozen (all -> feature_extractor).
TEST(SerTraining, UnfrozenEncoderTrainsAfterUnfreezeAfterSteps) {
  TempDir d;
  WriteNoiseCorpus(d, "train.jsonl", 8);
  std::vector<std::string> sets = TinyAcousticRun(d, "train.jsonl");
  sets.insert(sets.end(), {"model.acoustic.encoder.freeze=all", "model.acoustic.encoder.unfreeze_after_steps=1",
                           "train.lr=1e-2", "train.encoder_lr=1e-2", "train.cache_features=false"});
  const std::string config = AcousticOnlyConfig();
  fas::ExperimentConfig cfg = fas::LoadExperimentConfig({config}, sets);
  cfg.train.max_steps = 1;  // the step after which the encoder unfreezes
  fas::TrainExperiment(cfg, {d / "run", false, {}});
  const std::string last = d / "run/checkpoints/last/model.safetensors";
  std::map<std::string, torch::Tensor> before;
  for (auto& [name, t] : fas::ReadSafeTensors(last)) before[name] = t.clone();
  cfg.train.max_steps = 3;
  fas::TrainExperiment(cfg, {d / "run", true, {}});
  int transformer = 0, moved = 0, front_end = 0;
  for (auto& [name, t] : fas::ReadSafeTensors(last)) {
    if (name.rfind("acoustic_encoder.encoder.", 0) == 0) {
      ++transformer;
      moved += torch::equal(t, before.at(name)) ? 0 : 1;
    } else if (name.rfind("acoustic_encoder.feature_extractor.", 0) == 0) {
      ++front_end;
      EXPECT_TRUE(torch::equal(t, before.at(name))) << name << " moved, but the front end stays frozen";
    }
  }
  ASSERT_GT(transformer, 0);
  ASSERT_GT(front_end, 0);
  EXPECT_EQ(moved, transformer) << "transformer tensors that moved after unfreezing";
}

// A frozen encoder's cache holds whole, unaugmented utterances: with random crops, training encodes its batches
// (only the dev set is cached: what training hears is what an uncached run hears); without, training reads it.
TEST(SerTraining, CropsKeepTrainingOffTheCache) {
  for (const double crop : {0.3, 0.0}) {
    SCOPED_TRACE(crop);
    TempDir d;
    WriteNoiseCorpus(d, "train.jsonl", 8);
    WriteNoiseCorpus(d, "dev.jsonl", 2);
    std::vector<std::string> sets = TinyAcousticRun(d, "dev.jsonl");
    sets.insert(sets.end(), {"model.acoustic.encoder.freeze=all", "data.cache_dir=" + (d / "cache"),
                             "data.max_train_seconds=" + std::to_string(crop)});
    fas::ExperimentConfig cfg = fas::LoadExperimentConfig({AcousticOnlyConfig()}, sets);
    cfg.train.max_steps = 2;
    fas::TrainExperiment(cfg, {d / "run", false, {}});
    EXPECT_EQ(StoredEntries(d / "cache"), crop > 0 ? 2 : 10);
  }
}

}  // namespace

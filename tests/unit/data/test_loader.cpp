#include <gtest/gtest.h>
#include <torch/torch.h>

#include <cmath>
#include <functional>
#include <limits>
#include <numeric>
#include <random>
#include <set>

#include "fas/audio/audio.h"
#include "fas/core/error.h"
#include "fas/data/loader.h"
#include "support/test_support.h"

namespace {

using fas::testing::TempDir;
using fas::testing::WriteFile;

template <class E>
std::string ErrorOf(const std::function<void()>& f) {
  try {
    f();
  } catch (const E& e) {
    return e.what();
  }
  return "(no error)";
}

// A mixed-duration corpus: 0.5 .. 10 s, as emotional-speech corpora are.
std::vector<double> MixedDurations(int n) {
  std::mt19937_64 rng(3);
  std::vector<double> s(static_cast<size_t>(n));
  for (auto& x : s) x = 0.5 + 9.5 * static_cast<double>(rng() % 10000) / 10000.0;
  return s;
}

fas::LoaderConfig Config(int batch_size, bool bucketing) {
  fas::LoaderConfig c;
  c.batch_size = batch_size;
  c.bucketing = bucketing;
  return c;
}

TEST(BatchPlan, BucketingReducesPaddingAgainstRandomBatching) {
  const auto seconds = MixedDurations(2000);
  const std::vector<int64_t> labels(seconds.size(), -1);
  const auto random = fas::PlanBatches(seconds, labels, Config(16, false), true, 1, 0);
  const auto bucketed = fas::PlanBatches(seconds, labels, Config(16, true), true, 1, 0);
  std::cout << "padding ratio, 2000 utterances of 0.5-10 s, batches of 16: random " << random.padding_ratio
            << ", bucketed " << bucketed.padding_ratio << "\n";
  // Uniform 0.5-10 s in random batches of 16: the longest is near 10 s, the mean 5.25 s, so ~45 % is padding.
  EXPECT_GT(random.padding_ratio, 0.40);
  // Sorting windows of 32 batches (512 utterances): a batch spans about 9.5 s / 32 of durations, ~3 % padding.
  EXPECT_LT(bucketed.padding_ratio, 0.04);
  // Evaluation sorts the whole set: less still.
  const auto eval = fas::PlanBatches(seconds, labels, Config(16, true), false, 1, 0);
  EXPECT_LT(eval.padding_ratio, 0.01);
  std::cout << "evaluation (whole set sorted): " << eval.padding_ratio << "\n";
  EXPECT_NEAR(random.audio_seconds, bucketed.audio_seconds, 1e-6);
  EXPECT_NEAR(random.audio_seconds, std::accumulate(seconds.begin(), seconds.end(), 0.0), 1e-6);
}

TEST(BatchPlan, DeterministicFromSeedAndEpochAndCoversEveryUtteranceOnce) {
  const auto seconds = MixedDurations(301);
  const std::vector<int64_t> labels(seconds.size(), 0);
  const auto a = fas::PlanBatches(seconds, labels, Config(8, true), true, 42, 3);
  const auto b = fas::PlanBatches(seconds, labels, Config(8, true), true, 42, 3);
  const auto c = fas::PlanBatches(seconds, labels, Config(8, true), true, 42, 4);
  const auto d = fas::PlanBatches(seconds, labels, Config(8, true), true, 43, 3);
  EXPECT_EQ(a.batches, b.batches);
  EXPECT_NE(a.batches, c.batches);
  EXPECT_NE(a.batches, d.batches);
  for (const auto* plan : {&a, &c}) {
    std::vector<int64_t> all;
    for (const auto& batch : plan->batches) all.insert(all.end(), batch.begin(), batch.end());
    std::sort(all.begin(), all.end());
    std::vector<int64_t> want(seconds.size());
    std::iota(want.begin(), want.end(), 0);
    EXPECT_EQ(all, want);
  }
  // Evaluation: never shuffled, so the seed does not matter; every utterance once.
  const auto e1 = fas::PlanBatches(seconds, labels, Config(8, false), false, 1, 0);
  const auto e2 = fas::PlanBatches(seconds, labels, Config(8, false), false, 2, 5);
  EXPECT_EQ(e1.batches, e2.batches);
  EXPECT_EQ(e1.batches.front(), (std::vector<int64_t>{0, 1, 2, 3, 4, 5, 6, 7}));
}

TEST(BatchPlan, BatchBySecondsRespectsTheBudget) {
  const auto seconds = MixedDurations(500);
  auto cfg = Config(0, true);
  cfg.max_batch_seconds = 40;
  const auto plan = fas::PlanBatches(seconds, {}, cfg, true, 7, 0);
  size_t total = 0;
  for (const auto& batch : plan.batches) {
    double longest = 0;
    for (auto i : batch) longest = std::max(longest, seconds[static_cast<size_t>(i)]);
    EXPECT_LE(longest * static_cast<double>(batch.size()), 40.0 + 1e-9);
    total += batch.size();
  }
  EXPECT_EQ(total, seconds.size());
  // Short utterances pack many to a batch, long ones few.
  size_t largest = 0;
  for (const auto& batch : plan.batches) largest = std::max(largest, batch.size());
  EXPECT_GE(largest, 20u);
}

TEST(BatchPlan, CropLengthIsWhatTrainingBatchesArePlannedWith) {
  const std::vector<double> seconds = {12, 1, 30, 2};
  auto cfg = Config(4, false);
  cfg.max_train_seconds = 4;
  const auto train = fas::PlanBatches(seconds, {}, cfg, true, 1, 0);
  EXPECT_DOUBLE_EQ(train.audio_seconds, 4 + 1 + 4 + 2);
  const auto eval = fas::PlanBatches(seconds, {}, cfg, false, 1, 0);
  EXPECT_DOUBLE_EQ(eval.audio_seconds, 45);
}

TEST(BatchPlan, ShardsAreDisjointWithEqualBatchCounts) {
  const auto seconds = MixedDurations(203);
  const std::vector<int64_t> labels(seconds.size(), 1);
  const auto whole = fas::PlanBatches(seconds, labels, Config(4, true), true, 5, 2);
  ASSERT_EQ(whole.batches.size(), 51u);
  std::set<int64_t> seen;
  size_t count = 0;
  for (int rank = 0; rank < 3; ++rank) {
    const auto shard = fas::PlanBatches(seconds, labels, Config(4, true), true, 5, 2, rank, 3);
    EXPECT_EQ(shard.batches.size(), 17u);
    for (size_t b = 0; b < shard.batches.size(); ++b) {
      EXPECT_EQ(shard.batches[b], whole.batches[b * 3 + static_cast<size_t>(rank)]);
      for (auto i : shard.batches[b]) {
        EXPECT_TRUE(seen.insert(i).second) << "utterance " << i << " in two shards";
        ++count;
      }
    }
  }
  EXPECT_EQ(count, seen.size());
  // 51 batches over 4 ranks: training keeps 12 each (48); evaluation keeps all, 13/13/13/12.
  EXPECT_EQ(fas::PlanBatches(seconds, labels, Config(4, true), true, 5, 2, 3, 4).batches.size(), 12u);
  EXPECT_EQ(fas::PlanBatches(seconds, labels, Config(4, true), false, 5, 2, 3, 4).batches.size(), 12u);
  EXPECT_EQ(fas::PlanBatches(seconds, labels, Config(4, true), false, 5, 2, 0, 4).batches.size(), 13u);
  EXPECT_THROW(fas::PlanBatches(seconds, labels, Config(4, true), true, 5, 2, 3, 3), fas::ConfigError);
}

TEST(BatchPlan, ClassBalancedSamplingEqualisesClasses) {
  std::vector<double> seconds(1000, 2.0);
  std::vector<int64_t> labels(1000, 0);
  for (int i = 0; i < 100; ++i) labels[static_cast<size_t>(i)] = 1;  // 10 % minority
  auto cfg = Config(10, false);
  cfg.class_balanced = true;
  const auto plan = fas::PlanBatches(seconds, labels, cfg, true, 9, 0);
  int minority = 0;
  int total = 0;
  for (const auto& b : plan.batches) {
    for (auto i : b) {
      minority += labels[static_cast<size_t>(i)] == 1;
      ++total;
    }
  }
  EXPECT_EQ(total, 1000);
  EXPECT_NEAR(minority / 1000.0, 0.5, 0.06);
}

// ---- the loader on real files ----

struct Corpus {
  TempDir dir;
  std::vector<int> samples;  // per utterance at 16 kHz
};

// n utterances; every third at 44.1 kHz stereo FLAC, the rest 16 kHz WAV.
void MakeCorpus(Corpus& c, int n, const std::vector<std::string>& extra_lines = {}) {
  std::string manifest;
  const char* labels[] = {"neutral", "happy", "sad", "angry"};
  for (int i = 0; i < n; ++i) {
    const double seconds = 0.2 + 0.1 * (i % 7);
    const bool hi = i % 3 == 0;
    const int rate = hi ? 44100 : 16000;
    const int channels = hi ? 2 : 1;
    std::vector<float> x(static_cast<size_t>(std::lround(seconds * rate)) * channels);
    for (size_t k = 0; k < x.size(); ++k) x[k] = static_cast<float>(0.3 * std::sin(0.05 * (k / channels) + i));
    const std::string name = "u" + std::to_string(i) + (hi ? ".flac" : ".wav");
    fas::WriteAudio(c.dir / name, x, rate, {.channels = channels, .subtype = ""});
    c.samples.push_back(static_cast<int>(std::lround(seconds * 16000)));
    manifest += "{\"id\": \"u" + std::to_string(i) + "\", \"audio\": \"" + name + "\", \"label\": \"" + labels[i % 4] +
                "\", \"text_label\": \"" + labels[(i / 2) % 4] + "\", \"asr_text\": \"words " + std::to_string(i) +
                "\", \"text\": \"ref " + std::to_string(i) + "\"}\n";
  }
  for (const auto& l : extra_lines) manifest += l + "\n";
  WriteFile(c.dir / "m.jsonl", manifest);
}

std::shared_ptr<fas::AudioDataset> LoadData(const Corpus& c, bool skip_bad = false) {
  fas::DatasetOptions options;
  options.manifest.skip_bad = skip_bad;
  return std::make_shared<fas::AudioDataset>(fas::AudioDataset::Load(c.dir / "m.jsonl", options));
}

std::vector<fas::Batch> Epoch(fas::DataLoader& loader, int64_t epoch) {
  loader.StartEpoch(epoch);
  std::vector<fas::Batch> out;
  while (auto b = loader.Next()) out.push_back(std::move(*b));
  return out;
}

TEST(DataLoader, EvalBatchesArePaddedWholeUtterancesWithMasksAndLabels) {
  Corpus c;
  MakeCorpus(c, 10);
  auto data = LoadData(c);
  ASSERT_EQ(data->size(), 10);
  EXPECT_NEAR(data->seconds(0), 0.2, 1e-9);  // probed: the manifest has no durations
  auto cfg = Config(4, false);
  cfg.text_field = "text";
  fas::DataLoader loader(data, cfg, /*train=*/false, 1);
  const auto batches = Epoch(loader, 0);
  ASSERT_EQ(batches.size(), 3u);
  const auto& b = batches[0];
  EXPECT_EQ(b.ids, (std::vector<std::string>{"u0", "u1", "u2", "u3"}));
  EXPECT_EQ(b.texts[1], "ref 1");
  const int64_t longest = *std::max_element(c.samples.begin(), c.samples.begin() + 4);
  EXPECT_EQ(b.waveform.sizes(), (std::vector<int64_t>{4, longest}));
  EXPECT_EQ(b.waveform.dtype(), torch::kFloat32);
  for (int k = 0; k < 4; ++k) {
    EXPECT_EQ(b.lengths[k].item<int64_t>(), c.samples[static_cast<size_t>(k)]) << k;
    EXPECT_EQ(b.attention_mask[k].sum().item<int64_t>(), c.samples[static_cast<size_t>(k)]);
    // Padding is zero, the real samples are not.
    EXPECT_EQ(b.waveform[k].slice(0, c.samples[static_cast<size_t>(k)]).abs().sum().item<float>(), 0.0f);
    EXPECT_GT(b.waveform[k].slice(0, 0, c.samples[static_cast<size_t>(k)]).abs().sum().item<float>(), 1.0f);
  }
  EXPECT_EQ(b.labels[1].item<int64_t>(), 1);  // happy
  EXPECT_EQ(b.text_labels[2].item<int64_t>(), 1);                    // (2/2)%4 = 1: happy
  EXPECT_EQ(b.conflict[0].item<int64_t>(), 0);                       // neutral / neutral
  EXPECT_EQ(b.conflict[2].item<int64_t>(), 1);                       // sad / happy
  EXPECT_EQ(loader.stats().batches, 3);
  EXPECT_NEAR(loader.stats().audio_seconds,
              std::accumulate(c.samples.begin(), c.samples.end(), 0) / 16000.0, 1e-9);
}

TEST(DataLoader, SameBatchesWhateverTheWorkerCountAndCropsInTraining) {
  Corpus c;
  MakeCorpus(c, 14);
  auto data = LoadData(c);
  auto cfg = Config(3, true);
  cfg.max_train_seconds = 0.35;
  cfg.augment.enabled = true;
  cfg.augment.noise_prob = 0.5;
  cfg.augment.gain_prob = 0.5;
  cfg.normalize = "mean_var";
  cfg.num_workers = 0;
  fas::DataLoader inline_loader(data, cfg, true, 11);
  cfg.num_workers = 3;
  cfg.prefetch = 2;
  fas::DataLoader threaded(data, cfg, true, 11);
  for (int64_t epoch : {0, 1}) {
    const auto a = Epoch(inline_loader, epoch);
    const auto b = Epoch(threaded, epoch);
    ASSERT_EQ(a.size(), b.size());
    for (size_t i = 0; i < a.size(); ++i) {
      EXPECT_EQ(a[i].ids, b[i].ids);
      EXPECT_TRUE(torch::equal(a[i].waveform, b[i].waveform)) << "epoch " << epoch << " batch " << i;
      EXPECT_LE(a[i].lengths.max().item<int64_t>(), 5600);  // 0.35 s crop
    }
  }
  // The epoch changes the shuffle and the crops.
  EXPECT_NE(Epoch(threaded, 0)[0].ids, Epoch(threaded, 1)[0].ids);
  // A restarted epoch mid-way is the same epoch again (resume).
  threaded.StartEpoch(1);
  threaded.Next();
  const auto again = Epoch(threaded, 1);
  EXPECT_TRUE(torch::equal(again[0].waveform, Epoch(inline_loader, 1)[0].waveform));
}

TEST(DataLoader, CorruptAudioNamesTheUtteranceOrIsSkippedAndListed) {
  Corpus c;
  MakeCorpus(c, 5, {R"({"id": "bad", "audio": "bad.wav", "label": "sad"})",
                    R"({"id": "nan", "audio": "nan.wav", "label": "sad", "duration": 0.1})"});
  std::string garbage(3000, 'x');
  WriteFile(c.dir / "bad.wav", garbage);
  std::vector<float> nan(1600, std::numeric_limits<float>::quiet_NaN());
  fas::WriteAudio(c.dir / "nan.wav", nan, 16000, {.channels = 1, .subtype = "FLOAT"});

  // Probing catches the corrupt header when the dataset is built; the NaN needs decoding.
  auto e = ErrorOf<fas::DataError>([&] { LoadData(c); });
  EXPECT_NE(e.find("m.jsonl:6: 'bad'"), std::string::npos) << e;
  EXPECT_NE(e.find("cannot decode audio"), std::string::npos) << e;

  auto data = LoadData(c, /*skip_bad=*/true);
  ASSERT_EQ(data->size(), 6);
  ASSERT_EQ(data->skipped().size(), 1u);
  EXPECT_EQ(data->skipped()[0].id, "bad");
  EXPECT_EQ(data->skipped()[0].line, 6);

  auto cfg = Config(8, false);
  fas::DataLoader strict(data, cfg, false, 1);
  strict.StartEpoch(0);
  e = ErrorOf<fas::DataError>([&] { strict.Next(); });
  EXPECT_NE(e.find("utterance 'nan'"), std::string::npos) << e;
  EXPECT_NE(e.find("m.jsonl:7"), std::string::npos) << e;
  EXPECT_NE(e.find("NaN sample"), std::string::npos) << e;

  cfg.skip_bad = true;
  fas::DataLoader lenient(data, cfg, false, 1);
  const auto batches = Epoch(lenient, 0);
  ASSERT_EQ(batches.size(), 1u);
  EXPECT_EQ(batches[0].size(), 5);
  ASSERT_EQ(lenient.skipped().size(), 1u);
  EXPECT_EQ(lenient.skipped()[0].id, "nan");
  Epoch(lenient, 1);
  EXPECT_EQ(lenient.skipped().size(), 1u);  // listed once, counted every time
  EXPECT_EQ(lenient.stats().skipped, 2);
}

TEST(DataLoader, LabelMapDropsAreCountedAndUnknownLabelsRejected) {
  Corpus c;
  MakeCorpus(c, 2, {R"({"id": "f", "audio": "u1.wav", "label": "fru"})",
                    R"({"id": "e", "audio": "u1.wav", "label": "exc", "text_label": "sad"})"});
  fas::LabelMap map;
  map.corpus = "toy";
  map.map = {{"exc", "happy"}};
  map.drop = {"fru"};
  fas::DatasetOptions options;
  options.label_map = &map;
  const auto data = fas::AudioDataset::Load(c.dir / "m.jsonl", options);
  ASSERT_EQ(data.size(), 3);
  EXPECT_EQ(data.label(2), 1);
  EXPECT_EQ(data.conflict(2), 1);
  EXPECT_EQ(data.label_report().Summary(), "kept 3, mapped 1 (exc->happy 1), dropped 1 (fru 1)");

  const auto e = ErrorOf<fas::DataError>([&] { fas::AudioDataset::Load(c.dir / "m.jsonl", {}); });
  EXPECT_NE(e.find("m.jsonl:3: 'f'"), std::string::npos) << e;
  EXPECT_NE(e.find("'fru' is not in the label set"), std::string::npos) << e;
}

TEST(DataLoader, ConfigValidationNamesTheField) {
  auto cfg = Config(0, true);
  EXPECT_NE(ErrorOf<fas::ConfigError>([&] { cfg.Validate(); }).find("max_batch_seconds"), std::string::npos);
  cfg = Config(4, true);
  cfg.text_field = "transcript";
  EXPECT_NE(ErrorOf<fas::ConfigError>([&] { cfg.Validate(); }).find("text_field"), std::string::npos);
  cfg = Config(4, true);
  cfg.normalize = "zscore";
  EXPECT_THROW(cfg.Validate(), fas::ConfigError);
}

}  // namespace

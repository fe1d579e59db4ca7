// The tiny corpus the fixture wrote, checked as a user of it would: manifests, audio, balance, held-out voices
// and words, measured tone, ASR quality; then determinism (a second run gives the same bytes) and
// `fas transcribe` on it.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>

#include "fas/asr/transcriber.h"
#include "fas/asr/wer.h"
#include "fas/audio/audio.h"
#include "fas/data/manifest.h"
#include "fas/data/synth/effects.h"
#include "fas/text/normalize.h"
#include "support/test_support.h"

namespace fs = std::filesystem;

namespace {

const char* const kSplits[] = {"train", "dev", "test", "conflict"};
const std::vector<std::string> kEmotions = {"neutral", "happy", "sad", "angry", "surprise", "fear", "disgust"};

fas::Manifest Load(const std::string& split) { return fas::ReadManifest(fas::testing::TinyCorpus() + "/" + split + ".jsonl"); }

TEST(TinyCorpus, ManifestsHaveEveryFieldAndReadableAudio) {
  for (const std::string split : kSplits) {
    const auto m = Load(split);
    ASSERT_FALSE(m.utterances.empty()) << split;
    for (const auto& u : m.utterances) {
      EXPECT_EQ(u.split, split);
      EXPECT_FALSE(u.text.empty());
      EXPECT_FALSE(u.speaker.empty());
      EXPECT_EQ(u.corpus, "fas-synth");
      ASSERT_TRUE(u.conflict.has_value());
      EXPECT_EQ(*u.conflict, u.label != u.text_label);
      const auto info = fas::ProbeAudio(u.audio_path);
      EXPECT_EQ(info.sample_rate, 16000) << u.audio_path;
      EXPECT_EQ(info.channels, 1);
      EXPECT_GT(info.duration, 0.8) << u.id;
      EXPECT_LT(info.duration, 5.0) << u.id;
      EXPECT_EQ(fas::ReadAudio(u.audio_path).size(), static_cast<size_t>(info.frames));
    }
  }
}

TEST(TinyCorpus, BalancedClassesAndConflictFractions) {
  for (const std::string split : kSplits) {
    const auto m = Load(split);
    std::map<std::string, int> count;
    int conflicts = 0;
    for (const auto& u : m.utterances) {
      ++count[u.label];
      conflicts += *u.conflict;
    }
    ASSERT_EQ(count.size(), 7u) << split;
    const double mean = m.utterances.size() / 7.0;
    for (const auto& [label, n] : count) EXPECT_NEAR(n, mean, 0.1 * mean + 1e-9) << split << " " << label;
    const double fraction = static_cast<double>(conflicts) / m.utterances.size();
    if (split == "conflict") {
      EXPECT_EQ(fraction, 1.0);
    } else {
      // 25 % in the config; the tiny size rounds per class (dev/test: 1 of 5 per class).
      EXPECT_GE(fraction, 0.19) << split;
      EXPECT_LE(fraction, 0.3) << split;
    }
  }
}

TEST(TinyCorpus, HeldOutVoicesAndSentences) {
  std::set<std::string> indomain_speakers, indomain_texts;
  for (const char* split : {"train", "dev", "test"}) {
    for (const auto& u : Load(split).utterances) {
      indomain_speakers.insert(u.speaker);
      indomain_texts.insert(fas::NormalizeText(u.text));
    }
  }
  EXPECT_GT(indomain_speakers.size(), 4u);
  for (const auto& u : Load("conflict").utterances) {
    EXPECT_FALSE(indomain_speakers.count(u.speaker)) << u.speaker;
    EXPECT_FALSE(indomain_texts.count(fas::NormalizeText(u.text))) << u.text;
    EXPECT_EQ(u.extra.value("engine", ""), "festival");
  }
}

TEST(TinyCorpus, RecogniserReadsTheSpeech) {
  std::map<std::string, fas::WerCounts> by_engine;
  for (const std::string split : kSplits) {
    for (const auto& u : Load(split).utterances) by_engine[u.extra.value("engine", "")] += fas::ComputeWer(u.text, u.asr_text);
  }
  // Word accuracy of at least 85 % on the flite voices (emotional prosody included).
  EXPECT_LT(by_engine["flite"].Wer(), 0.15) << by_engine["flite"].Summary();
  EXPECT_LT(by_engine["festival"].Wer(), 0.35) << by_engine["festival"].Summary();
}

// Per-class mean F0, level, speaking rate and spectral tilt, measured on the training split (every speaker
// equally often in every class).
TEST(TinyCorpus, ToneSeparatesAsTheProfilesSay) {
  std::map<std::string, double> f0, db, rate, bright;
  std::map<std::string, int> n;
  for (const auto& u : Load("train").utterances) {
    const auto x = fas::ReadAudio(u.audio_path);
    f0[u.label] += fas::synth::MedianF0(x, 16000);
    db[u.label] += fas::synth::RmsDbfs(x);
    // Seconds per letter of the words, without the two 250 ms margins: sentence length drops out.
    size_t letters = 0;
    for (char c : fas::NormalizeText(u.text)) letters += c >= 'a' && c <= 'z';
    rate[u.label] += 1000.0 * (x.size() / 16000.0 - 0.5) / static_cast<double>(letters);
    // Tilt: energy of the first difference relative to the signal, in dB (higher = brighter).
    double e = 0.0, de = 0.0;
    for (size_t i = 1; i < x.size(); ++i) {
      e += static_cast<double>(x[i]) * x[i];
      de += static_cast<double>(x[i] - x[i - 1]) * (x[i] - x[i - 1]);
    }
    bright[u.label] += 10.0 * std::log10(de / e);
    ++n[u.label];
  }
  for (const auto& e : kEmotions) {
    f0[e] /= n[e];
    db[e] /= n[e];
    rate[e] /= n[e];
    bright[e] /= n[e];
    std::printf("%-9s F0 %6.1f Hz  level %6.1f dBFS  %5.1f ms/letter  tilt %6.2f dB\n", e.c_str(), f0[e], db[e],
                rate[e], bright[e]);
  }
  // Duration: sad and disgust slower than neutral, angry and fear faster.
  for (const char* slow : {"sad", "disgust"}) EXPECT_GT(rate[slow], 1.1 * rate["neutral"]) << slow;
  for (const char* fast : {"angry", "fear"}) EXPECT_LT(rate[fast], 0.95 * rate["neutral"]) << fast;
  // Tilt: angry brighter than neutral, sad darker.
  EXPECT_GT(bright["angry"], bright["neutral"] + 0.5);
  EXPECT_LT(bright["sad"], bright["neutral"] - 1.0);
  // F0: surprise, fear, happy above neutral; neutral above sad and disgust.
  for (const char* high : {"surprise", "fear", "happy"}) EXPECT_GT(f0[high], 1.08 * f0["neutral"]) << high;
  for (const char* low : {"sad", "disgust"}) EXPECT_LT(f0[low], 0.97 * f0["neutral"]) << low;
  EXPECT_GT(f0["surprise"], f0["happy"]);
  // Level: neutral sits at the reference (-26 dBFS); angry > happy > neutral > disgust > sad.
  EXPECT_NEAR(db["neutral"], -26.0, 1.0);
  EXPECT_GT(db["angry"], db["happy"] + 2.0);
  EXPECT_GT(db["happy"], db["neutral"] + 1.0);
  EXPECT_GT(db["neutral"], db["disgust"] + 1.0);
  EXPECT_GT(db["disgust"], db["sad"] + 1.0);
}

std::map<std::string, std::string> Checksums(const std::string& dir) {
  std::map<std::string, std::string> sums;
  for (const auto& e : fs::recursive_directory_iterator(dir)) {
    if (!e.is_regular_file()) continue;
    std::ifstream in(e.path(), std::ios::binary);
    std::ostringstream ss;
    ss << in.rdbuf();
    sums[fs::relative(e.path(), dir).string()] = fas::ContentHash(ss.str());
  }
  return sums;
}

TEST(TinyCorpus, SameSeedSameBytes) {
  fas::testing::TempDir dir;
  const auto r = fas::testing::RunFas({"synth", "--config", fas::testing::SourceDir() + "/configs/data/synth.yaml",
                                       "--set", "size=tiny", "--out", dir / "again"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  // The transcripts of identical audio come from the cache the first run filled.
  EXPECT_NE(r.out.find("210 utterances from the cache"), std::string::npos) << r.out;
  const auto a = Checksums(fas::testing::TinyCorpus());
  const auto b = Checksums(dir / "again");
  ASSERT_EQ(a.size(), b.size());
  for (const auto& [path, sum] : a) EXPECT_EQ(b.count(path) ? b.at(path) : "missing", sum) << path;
}

// Decoding again from scratch (no cache), on one thread and in another order than `fas synth` did (all splits
// interleaved on every core) gives the same transcripts: pocketsphinx keeps no state from one utterance to the next.
TEST(TinyCorpus, TranscriptsDoNotDependOnOrderThreadsOrCache) {
  fas::testing::TempDir dir;
  const auto r = fas::testing::RunFas(
      {"transcribe", "--threads", "1", "--no-cache", "--manifest", fas::testing::TinyCorpus() + "/dev.jsonl", "--out",
       dir / "dev.jsonl", "--set", "pocketsphinx.vocabulary=" + fas::testing::TinyCorpus() + "/asr_vocabulary.txt"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("decoded 35 "), std::string::npos) << r.out;
  const auto original = Load("dev");
  const auto redone = fas::ReadManifest(dir / "dev.jsonl");
  ASSERT_EQ(redone.utterances.size(), original.utterances.size());
  for (size_t i = 0; i < redone.utterances.size(); ++i) {
    EXPECT_EQ(redone.utterances[i].asr_text, original.utterances[i].asr_text) << redone.utterances[i].id;
  }
}

TEST(TinyCorpus, TranscribeFillsAsrTextAndReportsWer) {
  fas::testing::TempDir dir;
  // The settings `fas synth` used (its restricted vocabulary), so every transcript comes from the cache.
  const auto r = fas::testing::RunFas({"transcribe", "--manifest", fas::testing::TinyCorpus() + "/dev.jsonl", "--out", dir / "dev.jsonl",
                                       "--set", "pocketsphinx.vocabulary=" + fas::testing::TinyCorpus() + "/asr_vocabulary.txt", "--set",
                                       "pocketsphinx.frequent_words=0"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("overall: WER"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("decoded 0 "), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("flite_slt"), std::string::npos) << r.out;
  const auto original = Load("dev");
  const auto redone = fas::ReadManifest(dir / "dev.jsonl");
  ASSERT_EQ(redone.utterances.size(), original.utterances.size());
  for (size_t i = 0; i < redone.utterances.size(); ++i) {
    EXPECT_EQ(redone.utterances[i].asr_text, original.utterances[i].asr_text);
    EXPECT_TRUE(fs::exists(redone.utterances[i].audio_path));
  }
  const auto bad = fas::testing::RunFas({"transcribe", "--manifest", dir / "none.jsonl", "--out", dir / "x.jsonl"});
  EXPECT_EQ(bad.exit_code, 1);
  EXPECT_EQ(bad.err.rfind("error: ", 0), 0u) << bad.err;
}

}  // namespace

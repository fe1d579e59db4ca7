// The shipped sentence pools and the corpus plan: balance, conflict fractions, held-out words and voices, and
// determinism from the seed.
#include <gtest/gtest.h>

#include <fstream>
#include <map>
#include <set>

#include "fas/config/binder.h"
#include "fas/core/error.h"
#include "fas/data/synth/generator.h"
#include "fas/text/normalize.h"
#include "support/test_support.h"

namespace {

using fas::synth::Emotions;

fas::synth::SynthConfig Config(const std::vector<std::string>& sets = {}) {
  return fas::LoadConfig<fas::synth::SynthConfig>({fas::testing::SourceDir() + "/configs/data/synth.yaml"}, sets);
}

fas::synth::SentencePool Pool(const fas::synth::SynthConfig& c) {
  return fas::synth::LoadSentencePool(fas::testing::SourceDir() + "/data/synth", Emotions(),
                                      c.heldout_sentence_fraction, c.seed);
}

TEST(SentencePool, SixtyDistinctSentencesPerEmotionAndHeldOutDisjoint) {
  const auto c = Config();
  const auto pool = Pool(c);
  for (const auto& e : Emotions()) {
    const auto& ep = pool.emotions.at(e);
    std::set<std::string> kept, held;
    for (const auto& s : ep.sentences) kept.insert(fas::NormalizeText(s));
    for (const auto& s : ep.heldout_sentences) held.insert(fas::NormalizeText(s));
    EXPECT_GE(kept.size() + held.size(), 60u) << e;
    EXPECT_GE(held.size(), 10u) << e;
    for (const auto& s : held) EXPECT_FALSE(kept.count(s)) << e << ": " << s;
    EXPECT_FALSE(ep.templates.empty()) << e;
    EXPECT_FALSE(ep.heldout_templates.empty()) << e;
  }
  const auto vocab = pool.Vocabulary();
  EXPECT_GT(vocab.size(), 800u);
  EXPECT_TRUE(std::binary_search(vocab.begin(), vocab.end(), "furious"));
  EXPECT_TRUE(std::binary_search(vocab.begin(), vocab.end(), "maria"));  // slot filler
}

TEST(SentencePool, TemplatesExpandEverySlot) {
  const auto pool = Pool(Config());
  std::mt19937_64 rng(3);
  const auto s = fas::synth::ExpandTemplate("{name} left {thing} at {place}.", pool.slots, rng);
  EXPECT_EQ(s.find('{'), std::string::npos) << s;
  EXPECT_THROW(fas::synth::ExpandTemplate("{nobody} smiled", pool.slots, rng), fas::DataError);
}

TEST(Plan, BalancedClassesAndConflictFractions) {
  const auto c = Config();
  const auto plan = fas::synth::PlanCorpus(c, Pool(c));
  std::map<std::string, std::map<std::string, int>> tone, words;
  std::map<std::string, int> n, conflicts, weak;
  for (const auto& u : plan) {
    ++tone[u.split][u.label];
    ++words[u.split][u.text_label];
    ++n[u.split];
    conflicts[u.split] += u.conflict;
    weak[u.split] += u.weak_tone;
    EXPECT_EQ(u.conflict, u.label != u.text_label) << u.id;
  }
  EXPECT_EQ(n["train"] + n["dev"] + n["test"] + n["conflict"], 2520);
  for (const auto& split : {"train", "dev", "test", "conflict"}) {
    const double mean = n[split] / 7.0;
    ASSERT_EQ(tone[split].size(), 7u) << split;
    ASSERT_EQ(words[split].size(), 7u) << split;
    for (const auto& [label, count] : tone[split]) EXPECT_NEAR(count, mean, 0.1 * mean) << split << " " << label;
    for (const auto& [label, count] : words[split]) EXPECT_NEAR(count, mean, 0.1 * mean) << split << " " << label;
    EXPECT_NEAR(static_cast<double>(weak[split]) / n[split], 0.2, 0.03) << split;
  }
  for (const auto& split : {"train", "dev", "test"}) {
    EXPECT_NEAR(static_cast<double>(conflicts[split]) / n[split], 0.25, 0.02) << split;
  }
  EXPECT_EQ(conflicts["conflict"], n["conflict"]);
}

TEST(Plan, TinyStillHasEveryClassEverywhere) {
  const auto c = Config({"size=tiny"});
  const auto plan = fas::synth::PlanCorpus(c, Pool(c));
  std::map<std::string, std::set<std::string>> classes;
  for (const auto& u : plan) classes[u.split].insert(u.label);
  ASSERT_EQ(classes.size(), 4u);
  for (const auto& [split, set] : classes) EXPECT_EQ(set.size(), 7u) << split;
  EXPECT_NEAR(static_cast<double>(plan.size()), 200.0, 20.0);
}

TEST(Plan, HeldOutVoicesAndSentences) {
  const auto c = Config();
  const auto plan = fas::synth::PlanCorpus(c, Pool(c));
  std::set<std::string> train_speakers, conflict_speakers, train_words, conflict_words, train_templates,
      conflict_templates;
  for (const auto& u : plan) {
    const bool zero_shot = u.split == "conflict";
    (zero_shot ? conflict_speakers : train_speakers).insert(u.voice.name);
    if (u.template_text.empty()) {
      (zero_shot ? conflict_words : train_words).insert(u.text);
    } else {
      (zero_shot ? conflict_templates : train_templates).insert(u.template_text);
    }
  }
  EXPECT_EQ(train_speakers.size(), 8u);  // more than the four flite voices
  EXPECT_EQ(conflict_speakers.size(), 3u);
  for (const auto& s : conflict_speakers) EXPECT_FALSE(train_speakers.count(s)) << s;
  for (const auto& s : conflict_words) EXPECT_FALSE(train_words.count(s)) << s;
  for (const auto& t : conflict_templates) EXPECT_FALSE(train_templates.count(t)) << t;
  EXPECT_GT(conflict_words.size(), 50u);
}

TEST(Plan, SameSeedSamePlanOtherSeedOtherPlan) {
  const auto c = Config({"size=tiny"});
  const auto a = fas::synth::PlanCorpus(c, Pool(c));
  const auto b = fas::synth::PlanCorpus(c, Pool(c));
  ASSERT_EQ(a.size(), b.size());
  for (size_t i = 0; i < a.size(); ++i) {
    EXPECT_EQ(a[i].text, b[i].text);
    EXPECT_EQ(a[i].label, b[i].label);
    EXPECT_EQ(a[i].voice.name, b[i].voice.name);
    EXPECT_EQ(a[i].seed, b[i].seed);
  }
  const auto c7 = Config({"size=tiny", "seed=7"});
  const auto d = fas::synth::PlanCorpus(c7, Pool(c7));
  int same = 0;
  for (size_t i = 0; i < a.size(); ++i) same += a[i].text == d[i].text;
  EXPECT_LT(same, static_cast<int>(a.size()) / 2);
}

TEST(Tone, ProfilesJitterAndWeakTone) {
  const auto c = Config();
  std::mt19937_64 rng(11);
  double f0_sad = 0.0, f0_surprise = 0.0, gain_angry = 0.0, gain_weak_angry = 0.0;
  const int n = 400;
  for (int i = 0; i < n; ++i) {
    f0_sad += fas::synth::DrawTone(c, "sad", false, rng).prosody.f0 / n;
    f0_surprise += fas::synth::DrawTone(c, "surprise", false, rng).prosody.f0 / n;
    gain_angry += fas::synth::DrawTone(c, "angry", false, rng).effects.gain_db / n;
    gain_weak_angry += fas::synth::DrawTone(c, "angry", true, rng).effects.gain_db / n;
  }
  EXPECT_NEAR(f0_sad, 0.82, 0.02);
  EXPECT_NEAR(f0_surprise, 1.38, 0.03);
  EXPECT_NEAR(gain_angry, 7.0, 0.3);
  EXPECT_NEAR(gain_weak_angry, 0.3 * 7.0, 0.3);
  // Jitter: two draws of one profile differ.
  EXPECT_NE(fas::synth::DrawTone(c, "happy", false, rng).prosody.f0,
            fas::synth::DrawTone(c, "happy", false, rng).prosody.f0);
}

TEST(Config, ValidationNamesTheProblem) {
  EXPECT_THROW(Config({"size=huge"}).Validate(), fas::ConfigError);
  EXPECT_THROW(Config({"conflict_fraction=1.5"}).Validate(), fas::ConfigError);
  EXPECT_THROW(Config({"conflict_voices=[]"}).Validate(), fas::ConfigError);
  EXPECT_THROW(Config({"voices=[{name: x, engine: flite, voice: nosuch}]"}).Validate(), fas::ConfigError);
  // --set merges into the shipped map: one key changed, the other profiles stay.
  EXPECT_THROW(Config({"profiles={neutral: {f0: 0}}"}).Validate(), fas::ConfigError);
  EXPECT_THROW(Config({"profiles={sad: {duration: -1}}"}).Validate(), fas::ConfigError);
  EXPECT_THROW(Config({"profiles={suprise: {f0: 1.3}}"}).Validate(), fas::ConfigError);  // a typo is not ignored
  EXPECT_NO_THROW(Config({"profiles={neutral: {f0: 1.05}}"}).Validate());
  EXPECT_NO_THROW(Config().Validate());
}

TEST(Config, EveryEmotionNeedsAProfile) {
  // A config file of its own (no shipped defaults underneath) that forgets one emotion.
  fas::testing::TempDir dir;
  std::string yaml = "sizes: {default: {train: 70, dev: 14, test: 14, conflict: 14}}\n"
                     "voices: [{name: a, engine: flite, voice: slt}]\n"
                     "conflict_voices: [{name: b, engine: festival, voice: kal_diphone}]\nprofiles:\n";
  for (const auto& e : Emotions()) {
    if (e != "fear") yaml += "  " + e + ": {f0: 1.0}\n";
  }
  const std::string path = dir / "synth.yaml";
  fas::testing::WriteFile(path, yaml);
  try {
    fas::LoadConfig<fas::synth::SynthConfig>({path}, {}).Validate();
    ADD_FAILURE() << "a missing profile was accepted";
  } catch (const fas::ConfigError& e) {
    EXPECT_NE(std::string(e.what()).find("fear"), std::string::npos) << e.what();
  }
  std::ofstream(path, std::ios::app) << "  fear: {f0: 1.3}\n";
  EXPECT_NO_THROW(fas::LoadConfig<fas::synth::SynthConfig>({path}, {}).Validate());
}

}  // namespace

// pocketsphinx on real synthetic speech (flite), the restricted dictionary, the back-end factory and the
// transcript cache.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "fas/asr/transcriber.h"
#include "fas/asr/wer.h"
#include "fas/audio/audio.h"
#include "fas/core/error.h"
#include "fas/data/synth/tts.h"
#include "support/test_support.h"

namespace {

std::vector<float> Speak(const std::string& text, const std::string& voice) {
  auto engine = fas::synth::CreateTtsEngine("flite");
  fas::synth::VoiceSpec v;
  v.name = voice;
  v.engine = "flite";
  v.voice = voice;
  return fas::synth::SpeakAs(*engine, v, text, {}, 16000).samples;
}

TEST(PocketSphinx, ReadsFliteSpeech) {
  fas::testing::TempDir dir;
  fas::TranscriberConfig config;
  config.cache_dir = dir / "cache";
  auto asr = fas::CreateTranscriber(config);
  const std::string ref = "the meeting starts at ten in the morning";
  const auto hyp = asr->Transcribe(Speak(ref, "rms"));
  EXPECT_LE(fas::ComputeWer(ref, hyp).Wer(), 0.3) << hyp;
  EXPECT_NE(asr->Fingerprint().find("-ds=1"), std::string::npos);
}

TEST(PocketSphinx, RestrictedDictionaryKeepsOnlyTheVocabulary) {
  fas::testing::TempDir dir;
  fas::testing::WriteFile(dir / "vocab.txt", "meeting\nmorning\nzzqxj\n");
  fas::PocketSphinxConfig ps;
  ps.vocabulary = dir / "vocab.txt";
  std::vector<std::string> missing;
  const std::string dict = fas::ResolvePocketSphinxDictionary(ps, dir.path(), &missing);
  ASSERT_EQ(missing, std::vector<std::string>{"zzqxj"});
  std::ifstream in(dict);
  std::set<std::string> heads;
  for (std::string line; std::getline(in, line);) heads.insert(line.substr(0, line.find_first_of(" (")));
  EXPECT_EQ(heads, (std::set<std::string>{"meeting", "morning"}));
  ps.frequent_words = 50;  // adds "the", "and", ... from the language model
  const std::string bigger = fas::ResolvePocketSphinxDictionary(ps, dir.path());
  EXPECT_NE(bigger, dict);
  EXPECT_GT(std::filesystem::file_size(bigger), std::filesystem::file_size(dict));
}

TEST(Transcriber, UnknownBackendAndBadSettingsAreConfigErrors) {
  fas::TranscriberConfig config;
  config.backend = "whisper";
  EXPECT_THROW(fas::CreateTranscriber(config), fas::ConfigError);
  config.backend = "pocketsphinx";
  config.pocketsphinx.model_dir = "/nonexistent";
  EXPECT_THROW(fas::CreateTranscriber(config), fas::ConfigError);
  EXPECT_NE(fas::TranscriberNames().size(), 0u);
}

TEST(Transcriber, SecondPassComesFromTheCache) {
  fas::testing::TempDir dir;
  const std::vector<std::string> texts = {"i love this song", "the dog is growling"};
  std::vector<std::string> paths;
  for (size_t i = 0; i < texts.size(); ++i) {
    paths.push_back(dir / ("u" + std::to_string(i) + ".wav"));
    fas::WriteAudio(paths.back(), Speak(texts[i], "slt"), 16000);
  }
  fas::TranscriberConfig config;
  config.cache_dir = dir / "cache";
  fas::TranscribeStats first, second;
  const auto a = fas::TranscribeFiles(paths, config, 2, &first);
  const auto b = fas::TranscribeFiles(paths, config, 2, &second);
  EXPECT_EQ(first.decoded, 2);
  EXPECT_EQ(second.decoded, 0);
  EXPECT_EQ(second.cached, 2);
  EXPECT_EQ(a, b);
  // Different settings are a different cache key.
  config.pocketsphinx.ds = 2;
  fas::TranscribeStats third;
  fas::TranscribeFiles(paths, config, 1, &third);
  EXPECT_EQ(third.decoded, 2);
  EXPECT_EQ(fas::ContentHash("abc"), fas::ContentHash("abc"));
  EXPECT_NE(fas::ContentHash("abc"), fas::ContentHash("abd"));
  EXPECT_EQ(fas::ContentHash("").size(), 32u);
}

}  // namespace

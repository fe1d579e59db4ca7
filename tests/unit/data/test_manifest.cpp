#include <gtest/gtest.h>

#include <cstdlib>
#include <functional>
#include <sstream>

#include "fas/audio/audio.h"
#include "fas/core/error.h"
#include "fas/data/labels.h"
#include "fas/data/manifest.h"
#include "support/test_support.h"

namespace {

using fas::testing::ReadFile;
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

int CountLines(const std::string& s) {
  int n = 0;
  for (char c : s) n += c == '\n';
  return n;
}

// ---- labels ----

TEST(Labels, CanonicalYamlAgreesWithTheBuiltInOrder) {
  const auto from_file = fas::LoadLabelSet(fas::testing::SourceDir() + "/configs/labels/canonical.yaml");
  const auto built_in = fas::CanonicalLabels();
  EXPECT_EQ(from_file.name, "canonical");
  EXPECT_EQ(from_file.names, built_in.names);
  EXPECT_EQ(built_in.size(), 7);
  EXPECT_EQ(built_in.Index("angry"), 3);
  EXPECT_EQ(built_in.Index("bored"), -1);
}

TEST(Labels, CorpusMapAppliesMapsDropsAndRejectsUnknown) {
  TempDir d;
  WriteFile(d / "labels/toy.yaml",
            "corpus: toy\ntarget: canonical\nmap:\n  neu: neutral\n  exc: happy\ndrop: [fru, xxx]\n");
  setenv("FAS_CONFIG_DIR", d.path().c_str(), 1);
  const std::string path = fas::LabelMapPath("toy");
  unsetenv("FAS_CONFIG_DIR");
  EXPECT_EQ(path, d / "labels/toy.yaml");
  const auto map = fas::LoadLabelMap(path);
  const auto set = fas::CanonicalLabels();
  EXPECT_EQ(map.Apply("neu", set), "neutral");
  EXPECT_EQ(map.Apply("fru", set), "");
  EXPECT_EQ(map.Apply("sad", set), "sad");  // already a canonical name
  const auto e = ErrorOf<fas::DataError>([&] { map.Apply("nue", set); });
  EXPECT_NE(e.find("unknown label 'nue'"), std::string::npos) << e;
  EXPECT_NE(e.find("toy"), std::string::npos) << e;

  fas::LabelMapReport report;
  for (const std::string l : {"neu", "neu", "exc", "fru", "fru", "xxx", "sad"}) report.Record(l, map.Apply(l, set));
  EXPECT_EQ(report.Summary(), "kept 4, mapped 3 (exc->happy 1, neu->neutral 2), dropped 3 (fru 2, xxx 1)");

  // The source tree's maps are found without any environment.
  EXPECT_NE(fas::LabelMapPath("iemocap").find("configs/labels/iemocap.yaml"), std::string::npos);
  EXPECT_NE(ErrorOf<fas::ConfigError>([] { fas::LabelMapPath("no_such_corpus"); }).find("no label map"),
            std::string::npos);
}

TEST(Labels, BadMapFilesAreConfigErrors) {
  TempDir d;
  WriteFile(d / "a.yaml", "corpus: a\nmap:\n  x: joyful\n");
  EXPECT_NE(ErrorOf<fas::ConfigError>([&] { fas::LoadLabelMap(d / "a.yaml"); }).find("'joyful' is not a class"),
            std::string::npos);
  WriteFile(d / "b.yaml", "corpus: b\nmap:\n  x: happy\ndrop: [x]\n");
  EXPECT_NE(ErrorOf<fas::ConfigError>([&] { fas::LoadLabelMap(d / "b.yaml"); }).find("both mapped and dropped"),
            std::string::npos);
  WriteFile(d / "c.yaml", "corpus: c\nmapp:\n  x: happy\n");
  EXPECT_NE(ErrorOf<fas::ConfigError>([&] { fas::LoadLabelMap(d / "c.yaml"); }).find("unknown config key 'mapp'"),
            std::string::npos);
}

// ---- manifests ----

TEST(Manifest, RoundTripKeepsEveryFieldAndResolvesPaths) {
  TempDir d;
  fas::WriteAudio(d / "wav/a.wav", std::vector<float>(1600, 0.1f), 16000);
  fas::Utterance u;
  u.id = "a";
  u.audio = "wav/a.wav";
  u.offset = 0.01;
  u.duration = 0.05;
  u.text = "héllo wörld";
  u.asr_text = "hello world";
  u.label = "happy";
  u.text_label = "sad";
  u.speaker = "spk1";
  u.language = "en";
  u.corpus = "toy";
  u.split = "train";
  u.conflict = true;
  u.extra["original_label"] = "hap";
  fas::WriteManifest(d / "m.jsonl", {u});
  const std::string text = ReadFile(d / "m.jsonl");
  EXPECT_EQ(text.rfind("{\"id\":\"a\",\"audio\":\"wav/a.wav\"", 0), 0u) << text;

  const auto m = fas::ReadManifest(d / "m.jsonl");
  ASSERT_EQ(m.utterances.size(), 1u);
  const auto& r = m.utterances[0];
  EXPECT_EQ(r.audio_path, d / "wav/a.wav");
  EXPECT_EQ(r.line, 1);
  EXPECT_DOUBLE_EQ(r.offset, 0.01);
  EXPECT_DOUBLE_EQ(r.duration, 0.05);
  EXPECT_EQ(r.text, u.text);
  EXPECT_EQ(r.asr_text, u.asr_text);
  EXPECT_EQ(r.text_label, "sad");
  EXPECT_EQ(r.speaker, "spk1");
  EXPECT_EQ(r.split, "train");
  ASSERT_TRUE(r.conflict.has_value());
  EXPECT_TRUE(*r.conflict);
  EXPECT_EQ(r.extra["original_label"], "hap");
  EXPECT_EQ(fas::ToJson(r)["label"], "happy");
}

struct BadCase {
  std::string line;
  std::string problem;
};

std::vector<BadCase> BadCases() {
  return {
      {"this is not json", "not valid JSON"},
      {"[1, 2]", "must be a JSON object"},
      {R"({"audio": "a.wav"})", "missing required field 'id'"},
      {R"({"id": "x2"})", "missing required field 'audio'"},
      {R"({"id": 7, "audio": "a.wav"})", "'id' must be a non-empty string"},
      {R"({"id": "x4", "audio": "a.wav", "duration": "3"})", "'duration' must be a number"},
      {R"({"id": "x5", "audio": "a.wav", "label": 3})", "'label' must be a string"},
      {R"({"id": "x6", "audio": "missing.wav"})", "audio file not found"},
      {R"({"id": "x7", "audio": "a.wav", "duration": 0})", "duration 0.000000 is not positive"},
      {R"({"id": "x8", "audio": "a.wav", "duration": -1.5})", "is not positive"},
      {R"({"id": "x9", "audio": "a.wav", "offset": -1})", "offset -1.000000 is negative"},
      {"{\"id\": \"x10\", \"audio\": \"a.wav\", \"text\": \"caf\xC3\x28\"}", "not valid UTF-8"},
      {R"({"id": "ok", "audio": "a.wav"})", "duplicate id 'ok'"},
      {R"({"id": "x12", "audio": "a.wav", "conflict": "yes"})", "'conflict' must be true or false"},
      {R"({"id": "x13", "audio": "empty.wav"})", "audio file is empty"},
      {R"({"id": "x14", "audio": "a.wav", "label": "bored"})", "unknown label 'bored'"},
  };
}

TEST(Manifest, EveryBadLineIsAnErrorNamingTheLine) {
  TempDir d;
  fas::WriteAudio(d / "a.wav", std::vector<float>(160, 0.1f), 16000);
  WriteFile(d / "empty.wav", "");
  fas::ManifestReadOptions options;
  options.known_labels = fas::CanonicalLabels().names;
  for (const auto& c : BadCases()) {
    WriteFile(d / "m.jsonl", "{\"id\": \"ok\", \"audio\": \"a.wav\"}\n\n" + c.line + "\n");
    const auto e = ErrorOf<fas::DataError>([&] { fas::ReadManifest(d / "m.jsonl", options); });
    EXPECT_NE(e.find(d / "m.jsonl:3: "), std::string::npos) << c.line << " -> " << e;
    EXPECT_NE(e.find(c.problem), std::string::npos) << c.line << " -> " << e;
  }
}

TEST(Manifest, SkipBadCountsAndListsEverySkip) {
  TempDir d;
  fas::WriteAudio(d / "a.wav", std::vector<float>(160, 0.1f), 16000);
  WriteFile(d / "empty.wav", "");
  std::string text = "{\"id\": \"ok\", \"audio\": \"a.wav\", \"label\": \"happy\"}\n";
  for (const auto& c : BadCases()) text += c.line + "\n";
  text += "{\"id\": \"ok2\", \"audio\": \"" + (d / "a.wav") + "\"}\n";  // absolute path
  WriteFile(d / "m.jsonl", text);
  fas::ManifestReadOptions options;
  options.skip_bad = true;
  options.known_labels = fas::CanonicalLabels().names;
  const auto m = fas::ReadManifest(d / "m.jsonl", options);
  ASSERT_EQ(m.utterances.size(), 2u);
  EXPECT_EQ(m.utterances[1].audio_path, d / "a.wav");
  EXPECT_EQ(m.utterances[1].line, static_cast<int>(BadCases().size()) + 2);
  ASSERT_EQ(m.skipped.size(), BadCases().size());
  for (size_t i = 0; i < m.skipped.size(); ++i) {
    EXPECT_EQ(m.skipped[i].line, static_cast<int>(i) + 2);
    EXPECT_NE(m.skipped[i].reason.find(BadCases()[i].problem), std::string::npos) << m.skipped[i].reason;
  }
  EXPECT_EQ(m.skipped[3].id, "x2");
  EXPECT_EQ(fas::WriteSkipList(d / "run/skipped.jsonl", m.skipped), static_cast<int>(BadCases().size()));
  const std::string list = ReadFile(d / "run/skipped.jsonl");
  EXPECT_EQ(CountLines(list), static_cast<int>(BadCases().size()));
  EXPECT_NE(list.find("\"line\":9"), std::string::npos);
}

TEST(Manifest, MissingOrUselessManifestIsAnError) {
  TempDir d;
  EXPECT_NE(ErrorOf<fas::IoError>([&] { fas::ReadManifest(d / "none.jsonl"); }).find("manifest not found"),
            std::string::npos);
  WriteFile(d / "bad.jsonl", "nope\n");
  fas::ManifestReadOptions options;
  options.skip_bad = true;
  EXPECT_NE(ErrorOf<fas::DataError>([&] { fas::ReadManifest(d / "bad.jsonl", options); }).find("no usable"),
            std::string::npos);
  options.require_label = true;
  fas::WriteAudio(d / "a.wav", std::vector<float>(160, 0.1f), 16000);
  WriteFile(d / "nolabel.jsonl", R"({"id": "x", "audio": "a.wav"})" "\n");
  options.skip_bad = false;
  EXPECT_NE(ErrorOf<fas::DataError>([&] { fas::ReadManifest(d / "nolabel.jsonl", options); }).find("missing field 'label'"),
            std::string::npos);
}

TEST(Manifest, WriterRefusesWhatItCannotWriteFaithfully) {
  TempDir d;
  fas::Utterance u;
  u.id = "a";
  u.audio = "a.wav";
  EXPECT_THROW(fas::WriteManifest(d / "m.jsonl", {u, u}), fas::DataError);
  u.text = "caf\xC3\x28";
  EXPECT_NE(ErrorOf<fas::DataError>([&] { fas::WriteManifest(d / "m.jsonl", {u}); }).find("cannot be written"),
            std::string::npos);
}

}  // namespace

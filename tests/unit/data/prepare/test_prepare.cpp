// Every corpus preparer on a tiny fake copy of its download (fake_trees.cpp): ids, labels before and after
// mapping, speakers, splits, transcripts, dropped and skipped counts, and the errors for wrong or partial trees.
#include <gtest/gtest.h>

#include <filesystem>
#include <functional>
#include <map>

#include "fake_trees.h"
#include "fas/core/error.h"
#include "fas/data/manifest.h"
#include "fas/data/prepare/prepare.h"
#include "support/test_support.h"

namespace fs = std::filesystem;
using fas::prepare::PrepareCorpus;
using fas::prepare::PrepareOptions;
using fas::prepare::PrepareResult;
using fas::testing::TempDir;

namespace {

PrepareResult Prepare(const std::string& corpus, const std::string& root, const std::string& out,
                      PrepareOptions options = {}) {
  options.root = root;
  options.out = out;
  if (options.label_map.empty()) options.label_map = fas::testing::SourceDir() + "/configs/labels/" + corpus + ".yaml";
  return PrepareCorpus(corpus, options);
}

std::map<std::string, fas::Utterance> ById(const PrepareResult& r) {
  std::map<std::string, fas::Utterance> m;
  for (const auto& u : r.utterances) m[u.id] = u;
  return m;
}

std::string ErrorOf(const std::function<void()>& fn) { return fas::testing::ErrorOf<fas::Error>(fn); }

// The manifest reads back with every audio path resolving to a file.
void ExpectReadable(const std::string& manifest, size_t n) {
  const auto m = fas::ReadManifest(manifest);
  ASSERT_EQ(m.utterances.size(), n);
  for (const auto& u : m.utterances) {
    EXPECT_TRUE(fs::is_regular_file(u.audio_path)) << u.audio_path;
    EXPECT_FALSE(fs::path(u.audio).is_absolute()) << u.audio;
  }
}

}  // namespace

TEST(PrepareIemocap, SessionsLabelsTranscriptsAndDrops) {
  TempDir d;
  const auto root = fas::testing::BuildIemocap(d.path());
  const auto r = Prepare("iemocap", root, d / "manifests/iemocap.jsonl");
  auto u = ById(r);
  ASSERT_EQ(r.utterances.size(), 5u);
  const auto& f000 = u.at("iemocap:Ses01F_impro01_F000");
  EXPECT_EQ(f000.label, "neutral");
  EXPECT_EQ(f000.extra["original_label"], "neu");
  EXPECT_EQ(f000.speaker, "Ses01F");
  EXPECT_EQ(f000.split, "session1");
  EXPECT_EQ(f000.text, "Excuse me.");
  EXPECT_EQ(f000.language, "en");
  EXPECT_EQ(f000.corpus, "iemocap");
  EXPECT_EQ(f000.extra["type"], "improvised");
  EXPECT_EQ(f000.audio, "../iemocap_download/IEMOCAP_full_release/Session1/sentences/wav/Ses01F_impro01/"
                        "Ses01F_impro01_F000.wav");
  EXPECT_EQ(u.at("iemocap:Ses02M_impro03_F000").label, "angry");
  EXPECT_EQ(u.at("iemocap:Ses02M_impro03_F000").speaker, "Ses02F");
  EXPECT_EQ(u.at("iemocap:Ses03F_script02_2_M003").extra["type"], "scripted");
  EXPECT_EQ(u.at("iemocap:Ses03F_script02_2_M003").speaker, "Ses03M");
  EXPECT_EQ(u.at("iemocap:Ses04M_impro05_M010").label, "happy");
  EXPECT_EQ(u.at("iemocap:Ses05M_script01_1_F012").label, "surprise");
  EXPECT_EQ(u.at("iemocap:Ses05M_script01_1_F012").split, "session5");
  EXPECT_EQ(r.labels.dropped, (std::map<std::string, int>{{"exc", 1}, {"fru", 1}, {"xxx", 1}}));
  EXPECT_EQ(r.labels.kept, 5);
  EXPECT_EQ(r.labels.mapped.at("neu->neutral"), 1);
  ExpectReadable(d / "manifests/iemocap.jsonl", 5);
}

TEST(PrepareIemocap, MergeExcitedKeepUnmappedAndSessionFolds) {
  TempDir d;
  const auto root = fas::testing::BuildIemocap(d.path());
  PrepareOptions merge;
  merge.merge_excited = true;
  auto u = ById(Prepare("iemocap", root, d / "m.jsonl", merge));
  EXPECT_EQ(u.at("iemocap:Ses01F_impro01_F001").label, "happy");
  EXPECT_EQ(u.at("iemocap:Ses01F_impro01_F001").extra["original_label"], "exc");
  EXPECT_EQ(u.count("iemocap:Ses01F_impro01_M000"), 0u);

  PrepareOptions keep;
  keep.keep_unmapped = true;
  const auto all = Prepare("iemocap", root, d / "k.jsonl", keep);
  EXPECT_EQ(all.utterances.size(), 8u);
  EXPECT_TRUE(all.labels.dropped.empty());
  EXPECT_EQ(ById(all).at("iemocap:Ses01F_impro01_M000").label, "fru");

  PrepareOptions fold;
  fold.split = "test=Ses05*;dev=Ses04M";
  const auto folds = Prepare("iemocap", root, d / "f.jsonl", fold);
  EXPECT_EQ(folds.splits, (std::map<std::string, int>{{"dev", 1}, {"test", 1}, {"train", 3}}));
  EXPECT_EQ(ById(folds).at("iemocap:Ses05M_script01_1_F012").split, "test");
}

TEST(PrepareIemocap, PartialTreeNamesWhatIsMissing) {
  TempDir d;
  const auto root = fas::testing::BuildIemocap(d.path());
  fs::remove_all(root + "/IEMOCAP_full_release/Session4");
  const auto err = ErrorOf([&] { Prepare("iemocap", root, d / "x.jsonl"); });
  EXPECT_NE(err.find("Session4"), std::string::npos) << err;
  fs::remove_all(root + "/IEMOCAP_full_release/Session3/sentences");
  EXPECT_NE(ErrorOf([&] { Prepare("iemocap", root, d / "x.jsonl"); }).find("Session"), std::string::npos);
  const auto empty = ErrorOf([&] { Prepare("iemocap", d / "nothing_here", d / "x.jsonl"); });
  EXPECT_NE(empty.find("not a folder"), std::string::npos) << empty;
  fs::create_directories(d / "wrong");
  const auto wrong = ErrorOf([&] { Prepare("iemocap", d / "wrong", d / "x.jsonl"); });
  EXPECT_NE(wrong.find("dialog/EmoEvaluation"), std::string::npos) << wrong;
}

TEST(PrepareIemocap, MergeExcitedIsForIemocapOnly) {
  TempDir d;
  PrepareOptions merge;
  merge.merge_excited = true;
  const auto err = ErrorOf([&] { Prepare("meld", fas::testing::BuildMeld(d.path()), d / "x.jsonl", merge); });
  EXPECT_NE(err.find("iemocap only"), std::string::npos) << err;
}

TEST(PrepareMeld, CsvSplitsClipsAndUnextractedAudio) {
  TempDir d;
  const auto root = fas::testing::BuildMeld(d.path());
  const auto r = Prepare("meld", root, d / "meld.jsonl");
  auto u = ById(r);
  ASSERT_EQ(r.utterances.size(), 5u);
  const auto& first = u.at("meld:train_dia0_utt0");
  EXPECT_EQ(first.text, "also I was the point person on my company\u2019s transition from the KL-5 to GR-6 system.");
  EXPECT_EQ(first.speaker, "Chandler");
  EXPECT_EQ(first.label, "neutral");
  EXPECT_EQ(first.split, "train");
  EXPECT_EQ(first.extra["start_time"], "00:16:16,059");
  EXPECT_EQ(first.extra["season"], 8);
  EXPECT_EQ(u.at("meld:train_dia0_utt1").label, "happy");
  EXPECT_EQ(u.at("meld:train_dia0_utt1").extra["original_label"], "joy");
  EXPECT_EQ(u.at("meld:dev_dia0_utt0").label, "sad");
  EXPECT_EQ(u.at("meld:dev_dia0_utt0").speaker, "Phoebe");
  EXPECT_EQ(u.at("meld:test_dia0_utt1").label, "angry");
  EXPECT_EQ(u.at("meld:test_dia0_utt0").label, "surprise");
  EXPECT_EQ(r.splits, (std::map<std::string, int>{{"dev", 1}, {"test", 2}, {"train", 2}}));
  EXPECT_EQ(r.skipped.at("clip has an .mp4 but no .wav/.flac beside it"), 1);
  EXPECT_TRUE(r.labels.dropped.empty());
  ExpectReadable(d / "meld.jsonl", 5);
}

TEST(PrepareMeld, OnlyVideoOrPackedClipsAreClearErrors) {
  TempDir d;
  const auto root = fas::testing::BuildMeld(d.path());
  fs::remove(root + "/MELD.Raw/dev_splits_complete/dia0_utt0.wav");
  const auto err = ErrorOf([&] { Prepare("meld", root, d / "x.jsonl"); });
  EXPECT_NE(err.find("ffmpeg"), std::string::npos) << err;
  EXPECT_NE(err.find("dev_splits_complete"), std::string::npos) << err;
  fs::remove_all(root + "/MELD.Raw/dev_splits_complete");
  fas::testing::WriteFile(root + "/MELD.Raw/dev.tar.gz", "packed");
  const auto packed = ErrorOf([&] { Prepare("meld", root, d / "x.jsonl"); });
  EXPECT_NE(packed.find("dev.tar.gz"), std::string::npos) << packed;
  const auto fresh = fas::testing::BuildMeld(d / "fresh");
  fs::remove(fresh + "/MELD.Raw/test_sent_emo.csv");
  const auto no_csv = ErrorOf([&] { Prepare("meld", fresh, d / "x.jsonl"); });
  EXPECT_NE(no_csv.find("test_sent_emo.csv"), std::string::npos) << no_csv;
}

TEST(PrepareRavdess, FileNameFieldsCalmDroppedSongSkipped) {
  TempDir d;
  const auto root = fas::testing::BuildRavdess(d.path());
  const auto r = Prepare("ravdess", root, d / "ravdess.jsonl");
  auto u = ById(r);
  ASSERT_EQ(r.utterances.size(), 24u);
  const auto& n = u.at("ravdess:03-01-01-01-01-01-01");
  EXPECT_EQ(n.label, "neutral");
  EXPECT_EQ(n.speaker, "Actor_01");
  EXPECT_EQ(n.text, "Kids are talking by the door");
  EXPECT_EQ(n.extra["gender"], "male");
  EXPECT_EQ(n.split, "all");
  const auto& f = u.at("ravdess:03-01-06-02-01-01-02");
  EXPECT_EQ(f.label, "fear");
  EXPECT_EQ(f.extra["original_label"], "fearful");
  EXPECT_EQ(f.extra["intensity"], "strong");
  EXPECT_EQ(f.extra["gender"], "female");
  EXPECT_EQ(u.at("ravdess:03-01-05-01-02-01-24").text, "Dogs are sitting by the door");
  EXPECT_EQ(r.labels.dropped, (std::map<std::string, int>{{"calm", 1}}));
  EXPECT_EQ(r.skipped.at("song, not speech (vocal channel 02)"), 1);

  PrepareOptions split;
  split.split = "test=Actor_23,Actor_24;dev=Actor_21";
  EXPECT_EQ(Prepare("ravdess", root, d / "s.jsonl", split).splits,
            (std::map<std::string, int>{{"dev", 1}, {"test", 2}, {"train", 21}}));
  split.split = "test=Actor_99";
  const auto bad = ErrorOf([&] { Prepare("ravdess", root, d / "s.jsonl", split); });
  EXPECT_NE(bad.find("Actor_99"), std::string::npos) << bad;
  split.split = "test:Actor_01";
  EXPECT_NE(ErrorOf([&] { Prepare("ravdess", root, d / "s.jsonl", split); }).find("--split"), std::string::npos);

  fs::remove_all(root + "/Actor_07");
  const auto err = ErrorOf([&] { Prepare("ravdess", root, d / "x.jsonl"); });
  EXPECT_NE(err.find("Actor_07"), std::string::npos) << err;
}

TEST(PrepareEsd, LanguagesSplitsAndTranscriptEncodings) {
  TempDir d;
  const auto root = fas::testing::BuildEsd(d.path());
  const auto r = Prepare("esd", root, d / "esd.jsonl");
  auto u = ById(r);
  ASSERT_EQ(r.utterances.size(), 22u);
  const auto& zh = u.at("esd:0001_000001");
  EXPECT_EQ(zh.text, "打远一看，它们的确很是美丽，");
  EXPECT_EQ(zh.language, "zh");
  EXPECT_EQ(zh.speaker, "0001");
  EXPECT_EQ(zh.split, "dev");
  EXPECT_EQ(zh.label, "neutral");
  EXPECT_EQ(zh.extra["original_label"], "Neutral");
  EXPECT_EQ(u.at("esd:0001_000351").split, "train");
  EXPECT_EQ(u.at("esd:0001_000351").label, "angry");
  const auto& en = u.at("esd:0011_000021");
  EXPECT_EQ(en.text, "Author of the danger trail, Philip Steels, etc.");
  EXPECT_EQ(en.language, "en");
  EXPECT_EQ(u.at("esd:0011_001721").label, "surprise");
  EXPECT_EQ(u.at("esd:0011_001721").split, "test");
  EXPECT_EQ(r.splits, (std::map<std::string, int>{{"dev", 2}, {"test", 19}, {"train", 1}}));

  fs::remove_all(root + "/Emotional Speech Dataset (ESD)/Emotion Speech Dataset/0017");
  const auto err = ErrorOf([&] { Prepare("esd", root, d / "x.jsonl"); });
  EXPECT_NE(err.find("0017"), std::string::npos) << err;
}

TEST(PrepareMosei, SegmentsFromAnnotatorMeansAndStandardFolds) {
  TempDir d;
  const auto root = fas::testing::BuildMosei(d.path());
  const auto r = Prepare("mosei", root, d / "mosei.jsonl");
  auto u = ById(r);
  ASSERT_EQ(r.utterances.size(), 2u);
  const auto& a0 = u.at("mosei:vidA_0");
  EXPECT_EQ(a0.label, "happy");
  EXPECT_EQ(a0.extra["original_label"], "happiness");
  EXPECT_DOUBLE_EQ(a0.offset, 0.5);
  EXPECT_DOUBLE_EQ(a0.duration, 1.5);
  EXPECT_DOUBLE_EQ(a0.extra["emotion_intensity"]["happiness"].get<double>(), 2.0);
  EXPECT_EQ(a0.text, "so I went to the store");
  EXPECT_EQ(a0.speaker, "vidA");
  EXPECT_EQ(a0.split, "train");
  const auto& a1 = u.at("mosei:vidA_1");
  EXPECT_EQ(a1.label, "neutral");
  EXPECT_EQ(a1.extra["original_label"], "none");
  EXPECT_DOUBLE_EQ(a1.offset, 0.0);  // the transcript's start is slightly negative
  EXPECT_DOUBLE_EQ(a1.duration, 1.0);
  EXPECT_EQ(r.labels.dropped, (std::map<std::string, int>{{"ambiguous", 1}}));
  EXPECT_EQ(r.skipped.at("segment has no emotion annotation"), 1);
  ExpectReadable(d / "mosei.jsonl", 2);

  fs::remove_all(root + "/CMU_MOSEI/Raw/Labels");
  const auto err = ErrorOf([&] { Prepare("mosei", root, d / "x.jsonl"); });
  EXPECT_NE(err.find("Labels/*.csv"), std::string::npos) << err;
}

TEST(PrepareMer2024, LabelsTranscriptsAndExtractedAudio) {
  TempDir d;
  const auto root = fas::testing::BuildMer2024(d.path());
  const auto r = Prepare("mer2024", root, d / "mer.jsonl");
  auto u = ById(r);
  ASSERT_EQ(r.utterances.size(), 2u);
  const auto& w = u.at("mer2024:sample_00000001");
  EXPECT_EQ(w.label, "fear");
  EXPECT_EQ(w.extra["original_label"], "worried");
  EXPECT_EQ(w.text, "我有点担心。");
  EXPECT_EQ(w.extra["text_english"], "I am a bit worried.");
  EXPECT_EQ(w.language, "zh");
  EXPECT_EQ(w.split, "train");
  EXPECT_EQ(u.at("mer2024:sample_00000003").label, "angry");
  EXPECT_EQ(r.skipped.at("clip has a video file but no .wav/.flac"), 1);

  fs::remove_all(root + "/mer2024-dataset/audio-labeled");
  const auto err = ErrorOf([&] { Prepare("mer2024", root, d / "x.jsonl"); });
  EXPECT_NE(err.find("ffmpeg"), std::string::npos) << err;
}

TEST(PrepareCase, VocalAndTextLabelsFromMetadata) {
  TempDir d;
  const auto root = fas::testing::BuildCase(d.path());
  const auto r = Prepare("case", root, d / "case.jsonl");
  auto u = ById(r);
  ASSERT_EQ(r.utterances.size(), 3u);
  const auto& c = u.at("case:case_0001");
  EXPECT_EQ(c.label, "angry");
  EXPECT_EQ(c.text_label, "happy");
  EXPECT_EQ(c.extra["original_text_label"], "happy");
  ASSERT_TRUE(c.conflict.has_value());
  EXPECT_TRUE(*c.conflict);
  EXPECT_EQ(c.text, "Great, just great.");
  EXPECT_EQ(c.speaker, "voice03");
  EXPECT_EQ(c.split, "test");
  EXPECT_EQ(u.at("case:case_0003").language, "zh");
  ExpectReadable(d / "case.jsonl", 3);

  fs::remove(root + "/CASE/metadata.csv");
  const auto err = ErrorOf([&] { Prepare("case", root, d / "x.jsonl"); });
  EXPECT_NE(err.find("metadata table"), std::string::npos) << err;
}

TEST(PrepareEmis, AudioEmotionIsTheLabelTextEmotionTheTextLabel) {
  TempDir d;
  const auto root = fas::testing::BuildEmis(d.path());
  const auto r = Prepare("emis", root, d / "emis.jsonl");
  auto u = ById(r);
  ASSERT_EQ(r.utterances.size(), 3u);
  const auto& e = u.at("emis:s001_happy_angry_0011_CosyVoice");
  EXPECT_EQ(e.label, "angry");
  EXPECT_EQ(e.text_label, "happy");
  EXPECT_EQ(e.speaker, "0011");
  EXPECT_EQ(e.extra["tts"], "CosyVoice");
  EXPECT_EQ(e.extra["sentence_id"], "s001");
  EXPECT_TRUE(e.conflict.value_or(false));
  EXPECT_EQ(u.at("emis:s003_neutral_sad_0019_Style_TTS2").extra["tts"], "Style_TTS2");
  EXPECT_EQ(u.at("emis:s002_sad_neutral_0014_F5-TTS").label, "neutral");
  EXPECT_EQ(u.at("emis:s002_sad_neutral_0014_F5-TTS").text_label, "sad");

  fs::create_directories(d / "other");
  fas::testing::WriteWav(d / "other/hello.wav");
  const auto err = ErrorOf([&] { Prepare("emis", d / "other", d / "x.jsonl"); });
  EXPECT_NE(err.find("{sentence}_{text-emotion}"), std::string::npos) << err;
}

TEST(PrepareEmoEmilia, JsonlLabelsSpeakersAndLanguages) {
  TempDir d;
  const auto root = fas::testing::BuildEmoEmilia(d.path());
  const auto r = Prepare("emo-emilia", root, d / "ee.jsonl");
  auto u = ById(r);
  ASSERT_EQ(r.utterances.size(), 3u);
  const auto& zh = u.at("emo-emilia:ZH_B00090_S00350_W000000");
  EXPECT_EQ(zh.label, "angry");
  EXPECT_EQ(zh.language, "zh");
  EXPECT_EQ(zh.speaker, "ZH_B00090_S00350");
  EXPECT_EQ(zh.text, "那就没什么好说的了。");
  EXPECT_EQ(zh.split, "test");
  EXPECT_EQ(u.at("emo-emilia:EN_B00104_S01234_W000001").label, "surprise");
  EXPECT_EQ(u.at("emo-emilia:EN_B00104_S01234_W000001").language, "en");
  EXPECT_EQ(u.at("emo-emilia:EN_B00104_S01234_W000002").label, "disgust");
}

TEST(PrepareEmovo, ItalianCodes) {
  TempDir d;
  const auto root = fas::testing::BuildEmovo(d.path());
  const auto r = Prepare("emovo", root, d / "emovo.jsonl");
  auto u = ById(r);
  ASSERT_EQ(r.utterances.size(), 7u);
  EXPECT_EQ(u.at("emovo:dis-f1-b1").label, "disgust");
  EXPECT_EQ(u.at("emovo:gio-f1-n2").label, "happy");
  EXPECT_EQ(u.at("emovo:pau-f3-n1").label, "fear");
  EXPECT_EQ(u.at("emovo:rab-m1-d1").label, "angry");
  EXPECT_EQ(u.at("emovo:sor-m2-b2").label, "surprise");
  EXPECT_EQ(u.at("emovo:tri-m3-l2").label, "sad");
  EXPECT_EQ(u.at("emovo:tri-m3-l2").extra["original_label"], "tri");
  EXPECT_EQ(u.at("emovo:neu-f2-l1").speaker, "f2");
  EXPECT_EQ(u.at("emovo:neu-f2-l1").language, "it");
  EXPECT_EQ(u.at("emovo:neu-f2-l1").extra["sentence"], "l1");

  fs::remove_all(root + "/m2");
  const auto err = ErrorOf([&] { Prepare("emovo", root, d / "x.jsonl"); });
  EXPECT_NE(err.find("m2"), std::string::npos) << err;
}

TEST(PrepareEmodb, GermanCodesBoredomDropped) {
  TempDir d;
  const auto root = fas::testing::BuildEmodb(d.path());
  const auto r = Prepare("emodb", root, d / "emodb.jsonl");
  auto u = ById(r);
  ASSERT_EQ(r.utterances.size(), 9u);
  const auto& f = u.at("emodb:03a01Fa");
  EXPECT_EQ(f.label, "happy");
  EXPECT_EQ(f.extra["original_label"], "F");
  EXPECT_EQ(f.speaker, "03");
  EXPECT_EQ(f.text, "Der Lappen liegt auf dem Eisschrank.");
  EXPECT_EQ(f.language, "de");
  EXPECT_EQ(f.extra["gender"], "male");
  EXPECT_EQ(u.at("emodb:10a04Wb").label, "angry");
  EXPECT_EQ(u.at("emodb:11a05Ea").label, "disgust");
  EXPECT_EQ(u.at("emodb:12a07Aa").label, "fear");
  EXPECT_EQ(u.at("emodb:16b10Tb").label, "sad");
  EXPECT_EQ(u.at("emodb:13b02Nc").label, "neutral");
  EXPECT_EQ(r.labels.dropped, (std::map<std::string, int>{{"L", 1}}));
  EXPECT_EQ(r.splits, (std::map<std::string, int>{{"test", 9}}));

  PrepareOptions keep;
  keep.keep_unmapped = true;
  EXPECT_EQ(ById(Prepare("emodb", root, d / "k.jsonl", keep)).at("emodb:08a02La").label, "L");
}

TEST(Prepare, UnknownCorpusAndUnknownLabel) {
  TempDir d;
  EXPECT_NE(ErrorOf([&] { PrepareCorpus("timit", PrepareOptions{}); }).find("unknown corpus"), std::string::npos);
  // A label the map neither maps nor drops is an error naming the utterance, never a silent drop.
  const auto root = fas::testing::BuildEmovo(d.path());
  fas::testing::WriteWav(root + "/f1/xyz-f1-b1.wav");
  const auto err = ErrorOf([&] { Prepare("emovo", root, d / "x.jsonl"); });
  EXPECT_NE(err.find("emovo:xyz-f1-b1"), std::string::npos) << err;
}

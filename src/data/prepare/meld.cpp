// MELD (declare-lab): {train,dev,test}_sent_emo.csv (Sr No., Utterance, Speaker, Emotion, Sentiment, Dialogue_ID,
// Utterance_ID, Season, Episode, StartTime, EndTime) and the clips dia{D}_utt{U}.mp4 in train_splits/,
// dev_splits_complete/ and output_repeated_splits_test/. The clips are MPEG-4 video, which libsndfile does not
// decode: the user extracts the audio to dia{D}_utt{U}.wav (or .flac) beside each .mp4 (docs/corpora.md).
#include <map>

#include "common.h"
#include "fas/core/error.h"

namespace fas::prepare {

namespace {

const char* kCorpus = "meld";

struct MeldSplit {
  const char* split;
  const char* csv;
  const char* clips;
  const char* archive;  // the inner archive of MELD.Raw.tar.gz that holds `clips`
};

constexpr MeldSplit kSplits[] = {{"train", "train_sent_emo.csv", "train_splits", "train.tar.gz"},
                                 {"dev", "dev_sent_emo.csv", "dev_splits_complete", "dev.tar.gz"},
                                 {"test", "test_sent_emo.csv", "output_repeated_splits_test", "test.tar.gz"}};

fs::path FindOne(const std::vector<fs::path>& found, const std::string& what, ScanResult& result) {
  if (found.size() > 1) {
    result.warnings.push_back("meld: " + what + " found " + std::to_string(found.size()) + " times; using " +
                              found.front().string());
  }
  return found.front();
}

}  // namespace

ScanResult ScanMeld(const fs::path& root) {
  const Tree tree = WalkTree(root);
  ScanResult result;
  for (const auto& s : kSplits) {
    const auto csvs = FilesNamed(tree, [&](const std::string& n) { return n == s.csv; });
    if (csvs.empty()) ThrowMissing(kCorpus, root, std::string("no ") + s.csv);
    std::vector<fs::path> clip_dirs;
    for (const auto& d : tree.dirs) {
      if (d.filename() == s.clips) clip_dirs.push_back(d);
    }
    if (clip_dirs.empty()) {
      const auto archives = FilesNamed(tree, [&](const std::string& n) { return n == s.archive; });
      if (!archives.empty()) {
        ThrowMissing(kCorpus, root,
                     std::string("no ") + s.clips + "/ folder, but " + archives.front().string() +
                         " is there: unpack it where it is (tar -xzf)");
      }
      ThrowMissing(kCorpus, root, std::string("no ") + s.clips + "/ folder (the " + s.split + " clips)");
    }
    const fs::path csv_path = FindOne(csvs, s.csv, result);
    const fs::path clip_dir = FindOne(clip_dirs, std::string(s.clips) + "/", result);

    // Audio and video under the clip folder, by file stem (audio may sit in a subfolder such as wav/).
    std::map<std::string, fs::path> audio, video;
    const std::string prefix = clip_dir.string() + "/";
    for (const auto& f : tree.files) {
      if (f.string().rfind(prefix, 0) != 0) continue;
      const std::string ext = Lower(f.extension().string());
      if (IsAudioExtension(ext)) audio.emplace(f.stem().string(), f);
      if (ext == ".mp4") video.emplace(f.stem().string(), f);
    }

    const CsvTable csv = ReadCsv(csv_path, "CP1252");
    const int c_text = csv.Require("Utterance"), c_speaker = csv.Require("Speaker"),
              c_emotion = csv.Require("Emotion"), c_sentiment = csv.Require("Sentiment"),
              c_dialogue = csv.Require("Dialogue_ID"), c_utt = csv.Require("Utterance_ID"),
              c_season = csv.Require("Season"), c_episode = csv.Require("Episode"),
              c_start = csv.Require("StartTime"), c_end = csv.Require("EndTime");
    int with_audio = 0, video_only = 0;
    for (size_t i = 0; i < csv.rows.size(); ++i) {
      const auto& row = csv.rows[i];
      const std::string where = csv.path + ":" + std::to_string(csv.lines[i]);
      if (row.size() < csv.header.size()) {
        throw DataError(where + ": " + std::to_string(row.size()) +
                        " cells, expected " + std::to_string(csv.header.size()));
      }
      const int dialogue = ParseInt(row[c_dialogue], where), utterance = ParseInt(row[c_utt], where);
      const std::string stem = "dia" + std::to_string(dialogue) + "_utt" + std::to_string(utterance);
      const auto a = audio.find(stem);
      if (a == audio.end()) {
        if (video.count(stem)) {
          ++video_only;
          result.Skip("clip has an .mp4 but no .wav/.flac beside it", (clip_dir / (stem + ".mp4")).string());
        } else {
          result.Skip("clip missing from the download", (clip_dir / (stem + ".mp4")).string());
        }
        continue;
      }
      ++with_audio;
      RawUtterance r;
      r.u.id = std::string("meld:") + s.split + "_" + stem;
      r.u.audio = a->second.string();
      r.u.text = Trim(row[c_text]);
      r.u.speaker = Trim(row[c_speaker]);
      r.u.language = "en";
      r.u.split = s.split;
      r.label = Trim(row[c_emotion]);
      r.u.extra["sentiment"] = Trim(row[c_sentiment]);
      r.u.extra["dialogue_id"] = dialogue;
      r.u.extra["utterance_id"] = utterance;
      r.u.extra["season"] = ParseInt(row[c_season], where);
      r.u.extra["episode"] = ParseInt(row[c_episode], where);
      r.u.extra["start_time"] = Trim(row[c_start]);
      r.u.extra["end_time"] = Trim(row[c_end]);
      result.items.push_back(std::move(r));
    }
    if (with_audio == 0) {
      if (video_only > 0) {
        ThrowMissing(kCorpus, root,
                     std::string("no .wav/.flac audio in ") + clip_dir.string() + " (only .mp4 clips, which " +
                         "cannot be decoded here): extract the audio beside each clip, e.g. for f in *.mp4; do " +
                         "ffmpeg -i \"$f\" -vn -ac 1 -ar 16000 \"${f%.mp4}.wav\"; done");
      }
      ThrowMissing(kCorpus, root, std::string("no clip of ") + s.csv + " in " + clip_dir.string());
    }
  }
  return result;
}

}  // namespace fas::prepare

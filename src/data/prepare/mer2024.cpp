// MER2024 (MER challenge, Lian et al.; distributed under an EULA): label-disdim.csv (name, discrete, valence) for
// the labelled set, its clips in video-labeled/<name>.<video ext>, and label-transcription.csv (name, chinese,
// english). The clips are video: the user extracts the audio to <name>.wav (or .flac), anywhere below the root,
// e.g. in audio-labeled/ (docs/corpora.md). Only the labelled set carries labels, so its split is `train`.
#include <map>

#include "common.h"
#include "fas/core/error.h"

namespace fas::prepare {

namespace {

const char* kCorpus = "mer2024";

bool IsVideoExtension(const std::string& ext) {
  const std::string e = Lower(ext);
  return e == ".mp4" || e == ".avi" || e == ".mkv" || e == ".mov" || e == ".webm";
}

}  // namespace

ScanResult ScanMer2024(const fs::path& root) {
  const Tree tree = WalkTree(root);
  const auto label_files = FilesNamed(tree, [](const std::string& n) { return n == "label-disdim.csv"; });
  if (label_files.empty()) ThrowMissing(kCorpus, root, "no label-disdim.csv");
  ScanResult result;
  result.default_split = "train";
  if (label_files.size() > 1) {
    result.warnings.push_back("mer2024: label-disdim.csv found " + std::to_string(label_files.size()) +
                              " times; using " + label_files.front().string());
  }

  std::map<std::string, std::string> chinese, english;
  const auto transcripts = FilesNamed(tree, [](const std::string& n) { return n == "label-transcription.csv"; });
  if (!transcripts.empty()) {
    const CsvTable t = ReadCsv(transcripts.front(), "GB18030");
    const int c_name = t.Require("name"), c_zh = t.Column("chinese"), c_en = t.Column("english");
    for (const auto& row : t.rows) {
      if (row.size() < t.header.size()) continue;
      if (c_zh >= 0) chinese[Trim(row[c_name])] = Trim(row[c_zh]);
      if (c_en >= 0) english[Trim(row[c_name])] = Trim(row[c_en]);
    }
  } else {
    result.warnings.push_back("mer2024: no label-transcription.csv; `text` left empty");
  }

  std::map<std::string, fs::path> audio;
  std::map<std::string, fs::path> video;
  for (const auto& f : tree.files) {
    const std::string ext = f.extension().string();
    if (IsAudioExtension(ext)) audio.emplace(f.stem().string(), f);
    if (IsVideoExtension(ext)) video.emplace(f.stem().string(), f);
  }

  const CsvTable csv = ReadCsv(label_files.front(), "GB18030");
  const int c_name = csv.Require("name"), c_label = csv.Require("discrete"), c_valence = csv.Column("valence");
  int video_only = 0;
  for (size_t i = 0; i < csv.rows.size(); ++i) {
    const auto& row = csv.rows[i];
    if (row.size() < csv.header.size()) {
      throw DataError(csv.path + ":" + std::to_string(csv.lines[i]) + ": fewer cells than columns");
    }
    const std::string name = Trim(row[c_name]);
    const auto a = audio.find(name);
    if (a == audio.end()) {
      if (video.count(name)) {
        ++video_only;
        result.Skip("clip has a video file but no .wav/.flac", video[name].string());
      } else {
        result.Skip("clip missing from the download", name);
      }
      continue;
    }
    RawUtterance r;
    r.u.id = "mer2024:" + name;
    r.u.audio = a->second.string();
    r.u.language = "zh";
    r.label = Lower(Trim(row[c_label]));
    if (chinese.count(name)) r.u.text = chinese[name];
    if (english.count(name)) r.u.extra["text_english"] = english[name];
    if (c_valence >= 0 && !Trim(row[c_valence]).empty()) r.u.extra["valence"] = Trim(row[c_valence]);
    result.items.push_back(std::move(r));
  }
  if (result.items.empty()) {
    if (video_only > 0) {
      ThrowMissing(kCorpus, root,
                   "no .wav/.flac audio for the clips of label-disdim.csv (only video, which cannot be decoded "
                   "here): extract it, e.g. mkdir audio-labeled; for f in video-labeled/*; do b=$(basename \"${f%.*}\"); "
                   "ffmpeg -i \"$f\" -vn -ac 1 -ar 16000 audio-labeled/$b.wav; done");
    }
    ThrowMissing(kCorpus, root, "no clip of label-disdim.csv (expected video-labeled/ and extracted audio)");
  }
  return result;
}

}  // namespace fas::prepare

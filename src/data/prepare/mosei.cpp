// CMU-MOSEI (CMU MultiComp, the raw archive CMU_MOSEI.zip): Transcript/Segmented/Combined/<video>.txt with one
// line a segment, `video___clip___start___end___text`; Audio/Full/WAV_16000/<video>.wav, the whole video's audio
// (segments become offset/duration); Labels/*.csv, the Mechanical Turk batches with one row an annotator:
// Input.VIDEO_ID, Input.CLIP, Answer.happiness, Answer.sadness, Answer.anger, Answer.surprise, Answer.disgust,
// Answer.fear (0..3). A segment's label is the emotion with the highest mean intensity over its annotators
// ("none" when every mean is 0, "ambiguous" on a tie at the top); the means are kept in `emotion_intensity`.
// The standard folds come from the SDK's cmu_mosei_std_folds.py when it is found below the root.
#include <algorithm>
#include <array>
#include <map>
#include <regex>
#include <set>
#include <sstream>

#include "common.h"
#include "fas/core/error.h"

namespace fas::prepare {

namespace {

const char* kCorpus = "mosei";
const std::array<const char*, 6> kEmotions = {"happiness", "sadness", "anger", "surprise", "disgust", "fear"};

struct Intensity {
  std::array<double, 6> sum{};
  std::array<int, 6> n{};
};

using Key = std::pair<std::string, std::string>;  // video, clip

std::string ClipKey(const std::string& clip) {
  const std::string t = Trim(clip);
  // "3" and "03" name the same clip in the transcripts and the label batches.
  if (!t.empty() && std::all_of(t.begin(), t.end(), ::isdigit)) return std::to_string(std::stoll(t));
  return t;
}

void ReadLabelBatch(const CsvTable& csv, std::map<Key, Intensity>& labels) {
  const int c_video = csv.Require("Input.VIDEO_ID"), c_clip = csv.Require("Input.CLIP");
  std::array<int, 6> cols{};
  for (size_t e = 0; e < kEmotions.size(); ++e) cols[e] = csv.Require(std::string("Answer.") + kEmotions[e]);
  for (const auto& row : csv.rows) {
    if (row.size() < csv.header.size()) continue;
    Intensity& in = labels[{Trim(row[c_video]), ClipKey(row[c_clip])}];
    for (size_t e = 0; e < kEmotions.size(); ++e) {
      const std::string v = Trim(row[cols[e]]);
      char* end = nullptr;
      const double x = std::strtod(v.c_str(), &end);
      if (v.empty() || end != v.c_str() + v.size()) continue;  // an annotator who left the field empty
      in.sum[e] += x;
      ++in.n[e];
    }
  }
}

std::map<std::string, std::string> ReadFolds(const fs::path& path) {
  const std::string text = ReadText(path, "CP1252");
  std::map<std::string, std::string> fold_of;
  const std::pair<const char*, const char*> folds[] = {
      {"standard_train_fold", "train"}, {"standard_valid_fold", "dev"}, {"standard_test_fold", "test"}};
  for (const auto& [var, split] : folds) {
    const auto at = text.find(std::string(var) + " =");
    const auto open = text.find('[', at);
    const auto close = text.find(']', open);
    if (at == std::string::npos || open == std::string::npos || close == std::string::npos) {
      throw DataError(path.string() + ": no list " + var);
    }
    static const std::regex id_re(R"(['"]([^'"]+)['"])");
    const std::string list = text.substr(open, close - open);
    for (std::sregex_iterator it(list.begin(), list.end(), id_re), end; it != end; ++it) {
      fold_of[(*it)[1]] = split;
    }
  }
  return fold_of;
}

}  // namespace

ScanResult ScanMosei(const fs::path& root) {
  const Tree tree = WalkTree(root);
  const auto transcript_dirs = DirsEndingWith(tree, "Transcript/Segmented/Combined");
  if (transcript_dirs.empty()) ThrowMissing(kCorpus, root, "no Transcript/Segmented/Combined/ folder");
  const auto audio_dirs = DirsEndingWith(tree, "Audio/Full/WAV_16000");
  if (audio_dirs.empty()) ThrowMissing(kCorpus, root, "no Audio/Full/WAV_16000/ folder");
  const fs::path transcript_dir = transcript_dirs.front(), audio_dir = audio_dirs.front();

  std::map<Key, Intensity> labels;
  int batches = 0;
  for (const auto& f : tree.files) {
    if (Lower(f.extension().string()) != ".csv") continue;
    const CsvTable csv = ReadCsv(f, "CP1252");
    if (csv.Column("Input.VIDEO_ID") < 0 || csv.Column("Answer.happiness") < 0) continue;
    ReadLabelBatch(csv, labels);
    ++batches;
  }
  if (batches == 0) {
    ThrowMissing(kCorpus, root,
                 "no label batch (a Labels/*.csv with Input.VIDEO_ID, Input.CLIP and Answer.happiness ... columns)");
  }

  ScanResult result;
  std::map<std::string, std::string> fold_of;
  const auto folds = FilesNamed(tree, [](const std::string& n) { return n == "cmu_mosei_std_folds.py"; });
  if (!folds.empty()) {
    fold_of = ReadFolds(folds.front());
  } else {
    result.default_split = "all";
    result.warnings.push_back("mosei: no cmu_mosei_std_folds.py below the root; every segment's split is 'all'");
  }

  for (const auto& f : tree.files) {
    if (f.parent_path() != transcript_dir || f.extension() != ".txt") continue;
    std::istringstream in(ReadText(f, "CP1252"));
    int line_no = 0;
    for (std::string line; std::getline(in, line);) {
      ++line_no;
      const std::string l = Trim(line);
      if (l.empty()) continue;
      std::vector<std::string> parts;
      size_t pos = 0;
      for (int k = 0; k < 4; ++k) {
        const auto sep = l.find("___", pos);
        if (sep == std::string::npos) break;
        parts.push_back(l.substr(pos, sep - pos));
        pos = sep + 3;
      }
      const std::string where = f.string() + ":" + std::to_string(line_no);
      if (parts.size() != 4) throw DataError(where + ": expected video___clip___start___end___text");
      const std::string video = Trim(parts[0]), clip = ClipKey(parts[1]);
      const double start = std::max(0.0, ParseDouble(parts[2], where)), end = ParseDouble(parts[3], where);
      const std::string id = video + "_" + clip;
      const auto label = labels.find({video, clip});
      if (label == labels.end()) {
        result.Skip("segment has no emotion annotation", id);
        continue;
      }
      std::string split;
      if (!fold_of.empty()) {
        const auto fold = fold_of.find(video);
        if (fold == fold_of.end()) {
          result.Skip("video in no standard fold", id);
          continue;
        }
        split = fold->second;
      }
      const fs::path wav = audio_dir / (video + ".wav");
      std::error_code ec;
      if (!fs::is_regular_file(wav, ec)) {
        result.Skip("audio file missing", wav.string());
        continue;
      }
      if (end <= start) {
        result.Skip("segment ends before it starts", where);
        continue;
      }
      nlohmann::json intensity = nlohmann::json::object();
      std::array<double, 6> mean{};
      for (size_t e = 0; e < kEmotions.size(); ++e) {
        mean[e] = label->second.n[e] > 0 ? label->second.sum[e] / label->second.n[e] : 0.0;
        intensity[kEmotions[e]] = mean[e];
      }
      const double top = *std::max_element(mean.begin(), mean.end());
      RawUtterance r;
      if (top <= 0.0) {
        r.label = "none";
      } else if (std::count(mean.begin(), mean.end(), top) > 1) {
        r.label = "ambiguous";
      } else {
        r.label = kEmotions[std::max_element(mean.begin(), mean.end()) - mean.begin()];
      }
      r.u.id = "mosei:" + id;
      r.u.audio = wav.string();
      r.u.offset = start;
      r.u.duration = end - start;
      r.u.text = Trim(l.substr(pos));
      r.u.speaker = video;
      r.u.language = "en";
      r.u.split = split;
      r.u.extra["emotion_intensity"] = intensity;
      r.u.extra["video"] = video;
      r.u.extra["clip"] = clip;
      result.items.push_back(std::move(r));
    }
  }
  if (result.items.empty()) ThrowMissing(kCorpus, root, "no annotated segment with audio");
  return result;
}

}  // namespace fas::prepare

// ESD (Emotional Speech Dataset, Zhou et al., HLT Singapore): speakers 0001..0010 (Mandarin) and 0011..0020
// (English), each a folder <spk>/ with <spk>.txt (`<spk>_NNNNNN<TAB>text<TAB>emotion`) and one folder an emotion
// (Angry Happy Neutral Sad Surprise) split into train/ evaluation/ test/ with <spk>_NNNNNN.wav. The transcript
// files come in several encodings (UTF-8, UTF-16, GB2312, Latin-1); ReadText sorts that out.
#include <algorithm>
#include <cstdio>
#include <map>
#include <regex>
#include <set>
#include <sstream>

#include "common.h"
#include "fas/core/error.h"

namespace fas::prepare {

namespace {

const char* kCorpus = "esd";
const std::set<std::string> kEmotions = {"Angry", "Happy", "Neutral", "Sad", "Surprise"};

std::map<std::string, std::string> ReadTranscript(const fs::path& path, bool mandarin) {
  std::map<std::string, std::string> text;
  std::istringstream in(ReadText(path, mandarin ? "GB18030" : "CP1252"));
  for (std::string line; std::getline(in, line);) {
    const auto fields = Split(Trim(line), '\t');
    if (fields.size() >= 2) text[Trim(fields[0])] = Trim(fields[1]);
  }
  return text;
}

}  // namespace

ScanResult ScanEsd(const fs::path& root) {
  const Tree tree = WalkTree(root);
  static const std::regex speaker_re(R"(00(0[1-9]|1\d|20))");
  std::map<std::string, fs::path> speakers;
  for (const auto& d : tree.dirs) {
    const std::string name = d.filename().string();
    if (!std::regex_match(name, speaker_re)) continue;
    std::error_code ec;
    const bool has_emotion = std::any_of(kEmotions.begin(), kEmotions.end(),
                                         [&](const std::string& e) { return fs::is_directory(d / e, ec); });
    if (!has_emotion) continue;
    if (speakers.count(name)) {
      throw DataError("esd: speaker folder " + name + " found twice (" + speakers[name].string() + " and " +
                      d.string() + ")");
    }
    speakers[name] = d;
  }
  if (speakers.empty()) {
    ThrowMissing(kCorpus, root, "no speaker folder 0001..0020 with Angry/ Happy/ Neutral/ Sad/ Surprise/ inside");
  }
  std::string missing;
  for (int n = 1; n <= 20; ++n) {
    char id[8];
    std::snprintf(id, sizeof(id), "%04d", n);
    if (!speakers.count(id)) missing += (missing.empty() ? "" : ", ") + std::string(id);
  }
  if (!missing.empty()) ThrowMissing(kCorpus, root, "missing speaker folders " + missing);

  ScanResult result;
  result.default_split = "all";
  static const std::regex wav_re(R"((\d{4})_(\d{6})\.wav)", std::regex::icase);
  int flat = 0, untranscribed = 0;
  for (const auto& [spk, dir] : speakers) {
    const bool mandarin = std::stoi(spk) <= 10;
    const fs::path transcript_path = dir / (spk + ".txt");
    std::error_code ec;
    if (!fs::is_regular_file(transcript_path, ec)) ThrowMissing(kCorpus, root, "no transcript " + transcript_path.string());
    const auto transcripts = ReadTranscript(transcript_path, mandarin);
    const std::string prefix = dir.string() + "/";
    for (const auto& f : tree.files) {
      std::smatch m;
      const std::string name = f.filename().string();
      if (f.string().rfind(prefix, 0) != 0 || !std::regex_match(name, m, wav_re)) continue;
      // <spk>/<Emotion>/<subset>/<file>, or <spk>/<Emotion>/<file> in repackaged copies without the split.
      const fs::path rel = f.lexically_relative(dir);
      const std::string emotion = rel.begin()->string();
      if (!kEmotions.count(emotion)) {
        result.Skip("not below an emotion folder", f.string());
        continue;
      }
      RawUtterance r;
      r.u.id = "esd:" + f.stem().string();
      r.u.audio = f.string();
      r.u.speaker = spk;
      r.u.language = mandarin ? "zh" : "en";
      r.label = emotion;
      const std::string subset = std::distance(rel.begin(), rel.end()) == 3 ? std::next(rel.begin())->string() : "";
      if (subset == "train") {
        r.u.split = "train";
      } else if (subset == "evaluation") {
        r.u.split = "dev";
      } else if (subset == "test") {
        r.u.split = "test";
      } else {
        ++flat;
      }
      const auto t = transcripts.find(f.stem().string());
      if (t != transcripts.end()) {
        r.u.text = t->second;
      } else {
        ++untranscribed;
      }
      result.items.push_back(std::move(r));
    }
  }
  if (result.items.empty()) ThrowMissing(kCorpus, root, "no <spk>_NNNNNN.wav file in the emotion folders");
  if (flat > 0) {
    result.warnings.push_back("esd: " + std::to_string(flat) +
                              " files are not in train/ evaluation/ test/ folders; their split is 'all'");
  }
  if (untranscribed > 0) {
    result.warnings.push_back("esd: " + std::to_string(untranscribed) + " files have no line in their speaker's .txt");
  }
  return result;
}

}  // namespace fas::prepare

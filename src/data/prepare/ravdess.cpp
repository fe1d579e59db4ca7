// RAVDESS (Livingstone & Russo; the speech audio archive Audio_Speech_Actors_01-24): Actor_01..Actor_24/ with
// files MM-VV-EE-II-SS-RR-AA.wav: modality (03 audio-only), vocal channel (01 speech, 02 song), emotion,
// intensity (01 normal, 02 strong), statement, repetition, actor (odd male, even female).
#include <algorithm>
#include <regex>
#include <set>

#include "common.h"
#include "fas/core/error.h"

namespace fas::prepare {

namespace {

const char* kCorpus = "ravdess";

const char* const kEmotions[] = {"neutral", "calm", "happy", "sad", "angry", "fearful", "disgust", "surprised"};
const char* const kStatements[] = {"Kids are talking by the door", "Dogs are sitting by the door"};

}  // namespace

ScanResult ScanRavdess(const fs::path& root) {
  const Tree tree = WalkTree(root);
  static const std::regex actor_re(R"(Actor_(\d\d))");
  std::set<int> actors;
  for (const auto& d : tree.dirs) {
    std::smatch m;
    const std::string name = d.filename().string();
    if (std::regex_match(name, m, actor_re)) actors.insert(std::stoi(m[1]));
  }
  if (actors.empty()) ThrowMissing(kCorpus, root, "no Actor_01..Actor_24 folder");
  std::string missing;
  for (int a = 1; a <= 24; ++a) {
    if (!actors.count(a)) missing += (missing.empty() ? "" : ", ") + std::string(a < 10 ? "Actor_0" : "Actor_") + std::to_string(a);
  }
  if (!missing.empty()) ThrowMissing(kCorpus, root, "missing actor folders " + missing);

  static const std::regex name_re(R"((\d\d)-(\d\d)-(\d\d)-(\d\d)-(\d\d)-(\d\d)-(\d\d)\.wav)", std::regex::icase);
  ScanResult result;
  result.default_split = "all";
  for (const auto& f : tree.files) {
    std::smatch m;
    const std::string name = f.filename().string();
    if (!std::regex_match(name, m, name_re)) continue;
    const std::string where = f.string();
    const int modality = ParseInt(m[1], where), channel = ParseInt(m[2], where), emotion = ParseInt(m[3], where),
              intensity = ParseInt(m[4], where), statement = ParseInt(m[5], where),
              repetition = ParseInt(m[6], where), actor = ParseInt(m[7], where);
    if (modality != 3) {
      result.Skip("not an audio-only file (modality " + std::string(m[1]) + ")", where);
      continue;
    }
    if (channel != 1) {
      result.Skip("song, not speech (vocal channel " + std::string(m[2]) + ")", where);
      continue;
    }
    if (emotion < 1 || emotion > 8 || statement < 1 || statement > 2 || intensity < 1 || intensity > 2) {
      throw DataError(where + ": emotion " + std::string(m[3]) + ", intensity " + std::string(m[4]) +
                      " or statement " + std::string(m[5]) + " outside RAVDESS's codes");
    }
    RawUtterance r;
    r.u.id = "ravdess:" + f.stem().string();
    r.u.audio = f.string();
    r.u.speaker = "Actor_" + std::string(m[7]);
    r.u.language = "en";
    r.u.text = kStatements[statement - 1];
    r.label = kEmotions[emotion - 1];
    r.u.extra["intensity"] = intensity == 1 ? "normal" : "strong";
    r.u.extra["statement"] = statement;
    r.u.extra["repetition"] = repetition;
    r.u.extra["gender"] = actor % 2 == 1 ? "male" : "female";
    result.items.push_back(std::move(r));
  }
  if (result.items.empty()) {
    ThrowMissing(kCorpus, root, "no speech file named like 03-01-05-01-02-01-12.wav in the Actor_NN folders");
  }
  return result;
}

}  // namespace fas::prepare

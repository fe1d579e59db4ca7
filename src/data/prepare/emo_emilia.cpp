// Emo-Emilia (the C2SER test set, Zhao et al., ASLP@NPU): Emo-Emilia-ALL.jsonl, one object a line,
//   {"index": "ZH_B00090_S00350_W000000", "emotion": "angry", "wav": "./Emo-Emilia/<index>.wav", "text": "..."}
// 1400 utterances, 100 an emotion in each of Chinese (ZH_) and English (EN_). The speaker is Emilia's
// ZH_B..._S... prefix of the index.
#include <fstream>
#include <sstream>
#include <map>

#include <nlohmann/json.hpp>

#include "common.h"
#include "fas/core/error.h"

namespace fas::prepare {

namespace {

const char* kCorpus = "emo-emilia";

bool LooksLikeEmoEmilia(const fs::path& path) {
  std::ifstream in(path);
  std::string line;
  if (!std::getline(in, line)) return false;
  const auto j = nlohmann::json::parse(line, nullptr, false);
  return j.is_object() && j.contains("index") && j.contains("emotion") && j.contains("wav");
}

}  // namespace

ScanResult ScanEmoEmilia(const fs::path& root) {
  const Tree tree = WalkTree(root);
  std::vector<fs::path> lists;
  for (const auto& f : tree.files) {
    if (Lower(f.extension().string()) == ".jsonl" && LooksLikeEmoEmilia(f)) lists.push_back(f);
  }
  if (lists.empty()) {
    ThrowMissing(kCorpus, root, "no Emo-Emilia-ALL.jsonl (a JSON-lines file with index, emotion, wav, text)");
  }
  ScanResult result;
  result.default_split = "test";
  if (lists.size() > 1) {
    result.warnings.push_back("emo-emilia: " + std::to_string(lists.size()) + " label lists found; using " +
                              lists.front().string());
  }
  std::map<std::string, fs::path> audio;
  for (const auto& f : tree.files) {
    if (IsAudioExtension(f.extension().string())) audio.emplace(f.filename().string(), f);
  }
  std::istringstream in(ReadText(lists.front(), "CP1252"));
  int line_no = 0;
  for (std::string line; std::getline(in, line);) {
    ++line_no;
    if (Trim(line).empty()) continue;
    const std::string where = lists.front().string() + ":" + std::to_string(line_no);
    nlohmann::json j;
    try {
      j = nlohmann::json::parse(line);
    } catch (const nlohmann::json::exception& e) {
      throw DataError(where + ": " + e.what());
    }
    if (!j.is_object() || !j.contains("index") || !j.contains("emotion") || !j.contains("wav") ||
        !j["index"].is_string() || !j["emotion"].is_string() || !j["wav"].is_string()) {
      throw DataError(where + ": expected string fields index, emotion, wav");
    }
    const std::string index = j["index"];
    const fs::path wav_name = fs::path(j["wav"].get<std::string>()).filename();
    const fs::path beside = lists.front().parent_path() / wav_name;
    std::error_code ec;
    fs::path wav;
    if (fs::is_regular_file(beside, ec)) {
      wav = beside;
    } else if (audio.count(wav_name.string())) {
      wav = audio[wav_name.string()];
    } else {
      result.Skip("audio file missing", wav_name.string());
      continue;
    }
    RawUtterance r;
    r.u.id = "emo-emilia:" + index;
    r.u.audio = wav.string();
    r.u.text = j.value("text", "");
    const auto w = index.rfind("_W");
    r.u.speaker = w == std::string::npos ? index : index.substr(0, w);
    const std::string lang = Lower(index.substr(0, 3));
    r.u.language = lang == "zh_" ? "zh" : lang == "en_" ? "en" : "";
    r.label = Lower(Trim(j["emotion"].get<std::string>()));
    result.items.push_back(std::move(r));
  }
  if (result.items.empty()) ThrowMissing(kCorpus, root, "no audio file of the label list");
  return result;
}

}  // namespace fas::prepare

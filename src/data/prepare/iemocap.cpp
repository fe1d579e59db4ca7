// IEMOCAP (USC SAIL): Session1..5/dialog/EmoEvaluation/<dialog>.txt holds one line a turn,
//   [6.2901 - 8.2357]<TAB>Ses01F_impro01_F000<TAB>neu<TAB>[2.5000, 2.5000, 2.5000]
// with the consensus label; Session*/dialog/transcriptions/<dialog>.txt holds
//   Ses01F_impro01_F000 [006.2901-008.2357]: Excuse me.
// and the audio is Session*/sentences/wav/<dialog>/<turn>.wav. Folds are the sessions.
#include <algorithm>
#include <map>
#include <regex>
#include <sstream>

#include "common.h"
#include "fas/core/error.h"

namespace fas::prepare {

namespace {

const char* kCorpus = "iemocap";

std::map<std::string, std::string> ReadTranscripts(const fs::path& dir) {
  std::map<std::string, std::string> text;
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) return text;
  static const std::regex line_re(R"(^(Ses\d\d[FM]_\S+_[FM]\d+)\s+\[[^\]]*\]:\s?(.*)$)");
  for (const auto& entry : fs::directory_iterator(dir)) {
    const std::string name = entry.path().filename().string();
    if (entry.path().extension() != ".txt" || name.rfind("._", 0) == 0) continue;
    std::istringstream in(ReadText(entry.path(), "CP1252"));
    for (std::string line; std::getline(in, line);) {
      std::smatch m;
      const std::string l = Trim(line);
      if (std::regex_match(l, m, line_re)) text[m[1]] = Trim(m[2]);
    }
  }
  return text;
}

}  // namespace

ScanResult ScanIemocap(const fs::path& root) {
  const Tree tree = WalkTree(root);
  // Session folder -> its EmoEvaluation folder. The marker is the whole path, so a stray "EmoEvaluation"
  // elsewhere cannot be mistaken for a session.
  std::map<int, fs::path> sessions;
  for (const auto& eval : DirsEndingWith(tree, "dialog/EmoEvaluation")) {
    const fs::path session = eval.parent_path().parent_path();
    std::smatch m;
    const std::string name = session.filename().string();
    static const std::regex session_re(R"(Session([1-5]))");
    if (!std::regex_match(name, m, session_re)) continue;
    const int n = std::stoi(m[1]);
    if (sessions.count(n)) {
      throw DataError("iemocap: Session" + std::to_string(n) + " found twice below " + root.string() + " (" +
                      sessions[n].string() + " and " + session.string() + ")");
    }
    sessions[n] = session;
  }
  if (sessions.empty()) ThrowMissing(kCorpus, root, "no Session1..Session5 folder with dialog/EmoEvaluation/");
  std::string missing;
  for (int n = 1; n <= 5; ++n) {
    if (!sessions.count(n)) missing += (missing.empty() ? "Session" : ", Session") + std::to_string(n);
  }
  if (!missing.empty()) ThrowMissing(kCorpus, root, "missing " + missing + " (found the others)");

  ScanResult result;
  static const std::regex turn_re(R"(^\[\s*([0-9.]+)\s*-\s*([0-9.]+)\s*\]\s+(Ses\d\d[FM]_\S+_([FM])\d+)\s+(\S+)\s+\[.*$)");
  for (const auto& [n, session] : sessions) {
    const fs::path eval_dir = session / "dialog" / "EmoEvaluation";
    const fs::path wav_root = session / "sentences" / "wav";
    std::error_code ec;
    if (!fs::is_directory(wav_root, ec)) ThrowMissing(kCorpus, root, "no sentences/wav/ folder in " + session.string());
    const auto transcripts = ReadTranscripts(session / "dialog" / "transcriptions");
    if (transcripts.empty()) {
      result.warnings.push_back("iemocap: no transcripts in " + (session / "dialog" / "transcriptions").string() +
                                "; `text` left empty for Session" + std::to_string(n));
    }
    int turns = 0;
    std::vector<fs::path> label_files;
    for (const auto& entry : fs::directory_iterator(eval_dir)) {
      const std::string name = entry.path().filename().string();
      if (entry.is_regular_file() && entry.path().extension() == ".txt" && name.rfind("._", 0) != 0 &&
          name.rfind("Ses", 0) == 0) {
        label_files.push_back(entry.path());
      }
    }
    std::sort(label_files.begin(), label_files.end());
    for (const auto& file : label_files) {
      std::istringstream in(ReadText(file, "CP1252"));
      for (std::string line; std::getline(in, line);) {
        std::smatch m;
        const std::string l = Trim(line);
        if (l.empty() || l[0] != '[') continue;
        if (!std::regex_match(l, m, turn_re)) {
          throw DataError(file.string() + ": cannot read the turn line '" + l + "'");
        }
        const std::string turn = m[3];
        const std::string dialog = turn.substr(0, turn.rfind('_'));
        RawUtterance r;
        r.u.id = "iemocap:" + turn;
        r.u.speaker = turn.substr(0, 5) + std::string(m[4]);
        r.u.language = "en";
        r.u.split = "session" + std::to_string(n);
        r.label = m[5];
        const auto t = transcripts.find(turn);
        if (t != transcripts.end()) r.u.text = t->second;
        r.u.extra["session"] = n;
        r.u.extra["dialog"] = dialog;
        r.u.extra["type"] = dialog.find("_impro") != std::string::npos ? "improvised" : "scripted";
        r.u.extra["start"] = std::stod(m[1]);
        r.u.extra["end"] = std::stod(m[2]);
        const fs::path wav = wav_root / dialog / (turn + ".wav");
        ++turns;
        if (!fs::is_regular_file(wav, ec)) {
          result.Skip("audio file missing", wav.string());
          continue;
        }
        r.u.audio = wav.string();
        result.items.push_back(std::move(r));
      }
    }
    if (turns == 0) ThrowMissing(kCorpus, root, "no labelled turns in " + eval_dir.string());
  }
  if (result.items.empty()) ThrowMissing(kCorpus, root, "none of the labelled turns has its sentences/wav/ file");
  return result;
}

}  // namespace fas::prepare

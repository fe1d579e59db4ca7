// EMOVO (Costantini et al., Fondazione Ugo Bordoni): six actors in folders f1 f2 f3 m1 m2 m3, files
// emo-speaker-sentence.wav, emotions dis gio neu pau rab sor tri (disgust, joy, neutral, fear, anger, surprise,
// sadness), sentences b1-b3 (nonsense), l1-l4, n1-n5, d1-d2.
#include <regex>
#include <set>

#include "common.h"
#include "fas/core/error.h"

namespace fas::prepare {

ScanResult ScanEmovo(const fs::path& root) {
  const Tree tree = WalkTree(root);
  static const std::regex name_re(R"(([a-z]{3})-([fm][1-3])-([a-z]\d)\.wav)", std::regex::icase);
  ScanResult result;
  result.default_split = "test";
  for (const auto& f : tree.files) {
    std::smatch m;
    const std::string name = f.filename().string();
    if (!std::regex_match(name, m, name_re)) continue;
    RawUtterance r;
    r.u.id = "emovo:" + Lower(f.stem().string());
    r.u.audio = f.string();
    r.u.speaker = Lower(m[2]);
    r.u.language = "it";
    r.label = Lower(m[1]);
    r.u.extra["sentence"] = Lower(m[3]);
    r.u.extra["gender"] = r.u.speaker[0] == 'f' ? "female" : "male";
    result.items.push_back(std::move(r));
  }
  if (result.items.empty()) {
    ThrowMissing("emovo", root, "no file named like neu-f1-b1.wav (the actor folders f1..m3)");
  }
  std::set<std::string> seen;
  for (const auto& r : result.items) seen.insert(r.u.speaker);
  std::string missing;
  for (const char* spk : {"f1", "f2", "f3", "m1", "m2", "m3"}) {
    if (!seen.count(spk)) missing += (missing.empty() ? "" : ", ") + std::string(spk);
  }
  if (!missing.empty()) ThrowMissing("emovo", root, "no file of actor " + missing);
  return result;
}

}  // namespace fas::prepare

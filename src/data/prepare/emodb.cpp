// EmoDB (Berlin Database of Emotional Speech, TU Berlin): wav/ holds files like 03a01Fa.wav: speaker (03..16),
// text code (a01..b10), emotion letter (W anger, L boredom, E disgust, A fear, F happiness, T sadness,
// N neutral), version letter. The ten texts are listed in the corpus documentation.
#include <map>
#include <regex>
#include <set>

#include "common.h"
#include "fas/core/error.h"

namespace fas::prepare {

namespace {

const std::map<std::string, std::string>& Texts() {
  static const std::map<std::string, std::string> texts = {
      {"a01", "Der Lappen liegt auf dem Eisschrank."},
      {"a02", "Das will sie am Mittwoch abgeben."},
      {"a04", "Heute abend könnte ich es ihm sagen."},
      {"a05", "Das schwarze Stück Papier befindet sich da oben neben dem Holzstück."},
      {"a07", "In sieben Stunden wird es soweit sein."},
      {"b01", "Was sind denn das für Tüten, die da unter dem Tisch stehen?"},
      {"b02", "Sie haben es gerade hochgetragen und jetzt gehen sie wieder runter."},
      {"b03", "An den Wochenenden bin ich jetzt immer nach Hause gefahren und habe Agnes besucht."},
      {"b09", "Ich will das eben wegbringen und dann mit Karl was trinken gehen."},
      {"b10", "Die wird auf dem Platz sein, wo wir sie immer hinlegen."}};
  return texts;
}

// Male speakers per the corpus documentation.
bool IsMale(const std::string& speaker) {
  return speaker == "03" || speaker == "10" || speaker == "11" || speaker == "12" || speaker == "15";
}

}  // namespace

ScanResult ScanEmodb(const fs::path& root) {
  const Tree tree = WalkTree(root);
  static const std::regex name_re(R"((\d\d)([ab]\d\d)([WLEAFTN])([a-z])\.wav)");
  ScanResult result;
  result.default_split = "test";
  for (const auto& f : tree.files) {
    std::smatch m;
    const std::string name = f.filename().string();
    if (!std::regex_match(name, m, name_re)) continue;
    const std::string text_code = m[2];
    const auto text = Texts().find(text_code);
    if (text == Texts().end()) {
      result.Skip("text code not among EmoDB's ten texts", f.string());
      continue;
    }
    RawUtterance r;
    r.u.id = "emodb:" + f.stem().string();
    r.u.audio = f.string();
    r.u.speaker = m[1];
    r.u.language = "de";
    r.u.text = text->second;
    r.label = m[3];
    r.u.extra["text_code"] = text_code;
    r.u.extra["version"] = std::string(m[4]);
    r.u.extra["gender"] = IsMale(r.u.speaker) ? "male" : "female";
    result.items.push_back(std::move(r));
  }
  if (result.items.empty()) ThrowMissing("emodb", root, "no file named like 03a01Fa.wav (the wav/ folder)");
  std::set<std::string> seen;
  for (const auto& r : result.items) seen.insert(r.u.speaker);
  std::string missing;
  for (const char* spk : {"03", "08", "09", "10", "11", "12", "13", "14", "15", "16"}) {
    if (!seen.count(spk)) missing += (missing.empty() ? "" : ", ") + std::string(spk);
  }
  if (!missing.empty()) ThrowMissing("emodb", root, "no file of speaker " + missing);
  return result;
}

}  // namespace fas::prepare

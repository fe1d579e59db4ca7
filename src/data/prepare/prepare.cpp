// PrepareCorpus: runs a corpus's scanner, then does what every corpus shares: label mapping with a report,
// splits, paths relative to the manifest, id checks, writing.
#include "fas/data/prepare/prepare.h"

#include <algorithm>
#include <set>
#include <sstream>

#include "common.h"
#include "fas/core/error.h"

namespace fas::prepare {

namespace {

const std::vector<std::pair<std::string, Scanner>>& Scanners() {
  static const std::vector<std::pair<std::string, Scanner>> scanners = {
      {"iemocap", ScanIemocap}, {"meld", ScanMeld},   {"ravdess", ScanRavdess},       {"esd", ScanEsd},
      {"mosei", ScanMosei},     {"mer2024", ScanMer2024}, {"case", ScanCase},         {"emis", ScanEmis},
      {"emo-emilia", ScanEmoEmilia}, {"emovo", ScanEmovo}, {"emodb", ScanEmodb}};
  return scanners;
}

bool IsSplitName(const std::string& s) {
  return !s.empty() && std::all_of(s.begin(), s.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '-';
  });
}

// `official`, one name for everything, or speaker groups `test=A,B;dev=C*`.
struct SplitSpec {
  bool official = false;
  std::string all;
  std::vector<std::pair<std::string, std::vector<std::string>>> groups;
};

SplitSpec ParseSplit(const std::string& text) {
  SplitSpec spec;
  if (text == "official") {
    spec.official = true;
    return spec;
  }
  if (text.find('=') == std::string::npos) {
    if (!IsSplitName(text)) {
      throw ConfigError("--split '" + text + "': expected official, a split name, or test=SPK,SPK;dev=SPK");
    }
    spec.all = text;
    return spec;
  }
  for (const auto& part : Split(text, ';')) {
    const auto eq = part.find('=');
    const std::string name = Trim(part.substr(0, eq == std::string::npos ? part.size() : eq));
    if (eq == std::string::npos || !IsSplitName(name)) {
      throw ConfigError("--split '" + text + "': '" + part + "' is not NAME=SPEAKER,SPEAKER");
    }
    std::vector<std::string> speakers;
    for (const auto& s : Split(part.substr(eq + 1), ',')) {
      if (!Trim(s).empty()) speakers.push_back(Trim(s));
    }
    if (speakers.empty()) throw ConfigError("--split '" + text + "': no speakers listed for " + name);
    spec.groups.emplace_back(name, speakers);
  }
  return spec;
}

bool SpeakerMatches(const std::string& pattern, const std::string& speaker) {
  if (!pattern.empty() && pattern.back() == '*') {
    return speaker.rfind(pattern.substr(0, pattern.size() - 1), 0) == 0;
  }
  return pattern == speaker;
}

void ApplySplit(const SplitSpec& spec, const std::string& corpus, const std::string& default_split,
                std::vector<RawUtterance>& items) {
  if (spec.official) {
    for (auto& r : items) {
      if (r.u.split.empty()) r.u.split = default_split;
    }
    return;
  }
  if (!spec.all.empty()) {
    for (auto& r : items) r.u.split = spec.all;
    return;
  }
  std::set<std::string> speakers;
  for (const auto& r : items) speakers.insert(r.u.speaker);
  for (const auto& [name, patterns] : spec.groups) {
    for (const auto& p : patterns) {
      if (std::none_of(speakers.begin(), speakers.end(), [&](const std::string& s) { return SpeakerMatches(p, s); })) {
        std::string known;
        int n = 0;
        for (const auto& s : speakers) {
          if (n++ == 12) {
            known += ", ...";
            break;
          }
          known += (known.empty() ? "" : ", ") + s;
        }
        throw ConfigError("--split: speaker '" + p + "' (for " + name + ") matches no " + corpus +
                          " speaker; speakers are: " + known);
      }
    }
  }
  for (auto& r : items) {
    r.u.split = "train";
    for (const auto& [name, patterns] : spec.groups) {
      if (std::any_of(patterns.begin(), patterns.end(), [&](const std::string& p) { return SpeakerMatches(p, r.u.speaker); })) {
        r.u.split = name;
        break;
      }
    }
  }
}

LabelMap LoadMap(const std::string& corpus, const PrepareOptions& options) {
  LabelMap map = LoadLabelMap(options.label_map.empty() ? LabelMapPath(corpus) : options.label_map);
  if (options.merge_excited) {
    if (corpus != "iemocap") throw ConfigError("--merge-excited applies to iemocap only, not " + corpus);
    map.drop.erase(std::remove(map.drop.begin(), map.drop.end(), "exc"), map.drop.end());
    map.map["exc"] = "happy";
  }
  return map;
}

std::string RelativeAudio(const fs::path& audio, const fs::path& manifest_dir) {
  const fs::path abs = fs::weakly_canonical(fs::absolute(audio));
  if (manifest_dir.empty()) return abs.string();
  const fs::path rel = abs.lexically_relative(manifest_dir);
  return rel.empty() ? abs.string() : rel.string();
}

}  // namespace

const std::vector<std::string>& CorpusNames() {
  static const std::vector<std::string> names = [] {
    std::vector<std::string> n;
    for (const auto& s : Scanners()) n.push_back(s.first);
    return n;
  }();
  return names;
}

PrepareResult PrepareCorpus(const std::string& corpus, const PrepareOptions& options) {
  const auto& scanners = Scanners();
  const auto it = std::find_if(scanners.begin(), scanners.end(), [&](const auto& s) { return s.first == corpus; });
  if (it == scanners.end()) {
    std::string known;
    for (const auto& n : CorpusNames()) known += (known.empty() ? "" : ", ") + n;
    throw ConfigError("unknown corpus '" + corpus + "' (known: " + known + ")");
  }
  const SplitSpec split = ParseSplit(options.split);
  const LabelMap map = LoadMap(corpus, options);
  const LabelSet canonical = CanonicalLabels();

  std::error_code ec;
  if (options.root.empty() || !fs::is_directory(options.root, ec)) {
    throw DataError(corpus + ": --root '" + options.root + "' is not a folder");
  }
  ScanResult scan = it->second(fs::path(options.root));

  PrepareResult result;
  result.corpus = corpus;
  result.skipped = scan.skipped;
  result.warnings = scan.warnings;

  std::vector<RawUtterance> kept;
  for (auto& r : scan.items) {
    std::string label, text_label;
    try {
      label = map.Apply(r.label, canonical);
      if (!r.text_label.empty()) text_label = map.Apply(r.text_label, canonical);
    } catch (const DataError& e) {
      throw DataError(corpus + " utterance " + r.u.id + ": " + e.what());
    }
    if (label.empty() && options.keep_unmapped) label = r.label;
    result.labels.Record(r.label, label);
    if (label.empty()) continue;
    r.u.label = label;
    r.u.extra["original_label"] = r.label;
    if (!r.text_label.empty()) {
      // A text emotion the map drops leaves `text_label` empty; the utterance itself stays.
      r.u.text_label = text_label.empty() && options.keep_unmapped ? r.text_label : text_label;
      r.u.extra["original_text_label"] = r.text_label;
      if (!r.u.text_label.empty()) r.u.conflict = r.u.label != r.u.text_label;
    }
    kept.push_back(std::move(r));
  }
  ApplySplit(split, corpus, scan.default_split, kept);

  const fs::path manifest_dir =
      options.out.empty() ? fs::path() : fs::weakly_canonical(fs::absolute(options.out)).parent_path();
  std::map<std::string, std::string> seen;
  for (auto& r : kept) {
    const std::string source = r.u.audio;
    r.u.audio = RelativeAudio(source, manifest_dir);
    r.u.corpus = corpus;
    const auto [pos, inserted] = seen.emplace(r.u.id, source);
    if (!inserted) {
      throw DataError(corpus + ": two utterances have the id " + r.u.id + " (" + pos->second + " and " + source +
                      "); is the corpus unpacked twice below the root?");
    }
    ++result.splits[r.u.split];
    result.utterances.push_back(std::move(r.u));
  }
  std::sort(result.utterances.begin(), result.utterances.end(),
            [](const Utterance& a, const Utterance& b) { return a.id < b.id; });
  if (result.utterances.empty()) {
    throw DataError(corpus + ": every utterance below " + options.root +
                    " was dropped by the label map or skipped (" + result.labels.Summary() + ")");
  }
  if (!options.out.empty()) WriteManifest(options.out, result.utterances);
  return result;
}

std::string Summary(const PrepareResult& result) {
  std::ostringstream os;
  os << result.corpus << ": " << result.utterances.size() << " utterances (";
  bool first = true;
  for (const auto& [name, n] : result.splits) {
    os << (first ? "" : ", ") << name << " " << n;
    first = false;
  }
  os << ")\nlabels: " << result.labels.Summary() << "\n";
  if (!result.skipped.empty()) {
    os << "skipped:";
    for (const auto& [reason, n] : result.skipped) os << " " << n << " (" << reason << ")";
    os << "\n";
  }
  for (const auto& w : result.warnings) os << "warning: " << w << "\n";
  return os.str();
}

}  // namespace fas::prepare

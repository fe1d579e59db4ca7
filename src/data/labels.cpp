#include "fas/data/labels.h"

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <set>

#include "fas/config/binder.h"
#include "fas/core/error.h"

namespace fs = std::filesystem;

namespace fas {
namespace {

struct LabelSetFile {
  std::string name;
  std::vector<std::string> labels;
  template <class V>
  void Visit(V& v) {
    v("name", name, "label set name");
    v("labels", labels, "class names in class-index order");
  }
};

struct LabelMapFile {
  std::string corpus;
  std::string target = "canonical";
  std::map<std::string, std::string> map;
  std::vector<std::string> drop;
  template <class V>
  void Visit(V& v) {
    v("corpus", corpus, "corpus name");
    v("target", target, "label set the map targets");
    v("map", map, "original label: target label");
    v("drop", drop, "original labels with no counterpart in the target set");
  }
};

// The class order is a contract with every checkpoint, so it lives in code; a test checks the YAML agrees.
const std::vector<std::string> kCanonical = {"neutral", "happy", "sad", "angry", "surprise", "fear", "disgust"};

std::string JoinNames(const std::vector<std::string>& names) {
  std::string out;
  for (const auto& n : names) out += (out.empty() ? "" : ", ") + n;
  return out;
}

std::vector<fs::path> SearchDirs() {
  std::vector<fs::path> dirs;
  if (const char* env = std::getenv("FAS_CONFIG_DIR"); env != nullptr && *env != '\0') {
    dirs.push_back(fs::path(env) / "labels");
  }
  dirs.push_back(fs::path("configs") / "labels");
#ifdef FAS_SOURCE_DIR
  dirs.push_back(fs::path(FAS_SOURCE_DIR) / "configs" / "labels");
#endif
  return dirs;
}

}  // namespace

int LabelSet::Index(const std::string& label) const {
  const auto it = std::find(names.begin(), names.end(), label);
  return it == names.end() ? -1 : static_cast<int>(it - names.begin());
}

LabelSet CanonicalLabels() { return LabelSet{"canonical", kCanonical}; }

LabelSet LoadLabelSet(const std::string& path) {
  const auto file = LoadConfig<LabelSetFile>({path});
  if (file.name.empty()) throw ConfigError(path + ": label set has no `name`");
  if (file.labels.empty()) throw ConfigError(path + ": label set '" + file.name + "' has no `labels`");
  std::set<std::string> seen;
  for (const auto& l : file.labels) {
    if (l.empty()) throw ConfigError(path + ": empty label name in `labels`");
    if (!seen.insert(l).second) throw ConfigError(path + ": label '" + l + "' listed twice");
  }
  return LabelSet{file.name, file.labels};
}

std::string LabelMap::Apply(const std::string& original, const LabelSet& target_set) const {
  if (const auto it = map.find(original); it != map.end()) return it->second;
  if (std::find(drop.begin(), drop.end(), original) != drop.end()) return "";
  if (target_set.Index(original) >= 0) return original;
  std::string known;
  for (const auto& [k, v] : map) known += (known.empty() ? "" : ", ") + k;
  throw DataError("unknown label '" + original + "' for corpus '" + corpus + "': not in its map (" + known +
                  "), its drop list [" + JoinNames(drop) + "], or the " + target_set.name + " set");
}

LabelMap LoadLabelMap(const std::string& path) {
  const auto file = LoadConfig<LabelMapFile>({path});
  LabelMap out;
  out.corpus = file.corpus;
  out.target = file.target;
  out.map = file.map;
  out.drop = file.drop;
  if (out.corpus.empty()) throw ConfigError(path + ": label map has no `corpus`");
  LabelSet target;
  if (out.target == "canonical") {
    target = CanonicalLabels();
  } else {
    const fs::path sibling = fs::path(path).parent_path() / (out.target + ".yaml");
    std::error_code ec;
    if (!fs::exists(sibling, ec)) {
      throw ConfigError(path + ": target label set '" + out.target + "' not found (looked for " + sibling.string() +
                        ")");
    }
    target = LoadLabelSet(sibling.string());
  }
  for (const auto& [from, to] : out.map) {
    if (target.Index(to) < 0) {
      throw ConfigError(path + ": map " + from + " -> '" + to + "' is not a class of the " + target.name +
                        " set (" + JoinNames(target.names) + ")");
    }
    if (std::find(out.drop.begin(), out.drop.end(), from) != out.drop.end()) {
      throw ConfigError(path + ": label '" + from + "' is both mapped and dropped");
    }
  }
  return out;
}

std::string LabelMapPath(const std::string& corpus) {
  if (corpus.empty() || corpus.find('/') != std::string::npos || corpus.find("..") != std::string::npos) {
    throw ConfigError("invalid corpus name '" + corpus + "' for a label map");
  }
  std::string looked;
  for (const auto& dir : SearchDirs()) {
    const fs::path p = dir / (corpus + ".yaml");
    std::error_code ec;
    if (fs::is_regular_file(p, ec)) return p.string();
    looked += (looked.empty() ? "" : ", ") + p.string();
  }
  throw ConfigError("no label map for corpus '" + corpus + "' (looked for " + looked +
                    "); write one or set $FAS_CONFIG_DIR to a folder holding labels/" + corpus + ".yaml");
}

void LabelMapReport::Record(const std::string& original, const std::string& result) {
  if (result.empty()) {
    ++dropped[original];
    return;
  }
  ++kept;
  if (result != original) ++mapped[original + "->" + result];
}

std::string LabelMapReport::Summary() const {
  auto list = [](const std::map<std::string, int>& m, int& total) {
    std::string s;
    total = 0;
    for (const auto& [k, n] : m) {
      s += (s.empty() ? "" : ", ") + k + " " + std::to_string(n);
      total += n;
    }
    return s;
  };
  int n_mapped = 0;
  int n_dropped = 0;
  const std::string m = list(mapped, n_mapped);
  const std::string d = list(dropped, n_dropped);
  std::string out = "kept " + std::to_string(kept) + ", mapped " + std::to_string(n_mapped);
  if (!m.empty()) out += " (" + m + ")";
  out += ", dropped " + std::to_string(n_dropped);
  if (!d.empty()) out += " (" + d + ")";
  return out;
}

}  // namespace fas

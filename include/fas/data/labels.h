// Label sets and per-corpus label maps (configs/labels/*.yaml). Nothing is dropped silently: every mapping
// decision is counted and reported.
#pragma once

#include <map>
#include <string>
#include <vector>

namespace fas {

// An ordered list of class names; the index is the class id.
struct LabelSet {
  std::string name;
  std::vector<std::string> names;

  int Index(const std::string& label) const;  // -1 when absent
  int size() const { return static_cast<int>(names.size()); }
};

// neutral, happy, sad, angry, surprise, fear, disgust (configs/labels/canonical.yaml).
LabelSet CanonicalLabels();
// Loads a label set file: `name: canonical` and `labels: [..]`.
LabelSet LoadLabelSet(const std::string& path);

// A corpus's original labels onto a label set: `map` renames, `drop` lists labels with no counterpart.
// A label neither mapped, dropped nor already in the target set is an error (an unknown label, e.g. a typo).
struct LabelMap {
  std::string corpus;
  std::string target = "canonical";
  std::map<std::string, std::string> map;
  std::vector<std::string> drop;

  // The label to use, or "" when the map drops it; throws DataError on an unknown label.
  std::string Apply(const std::string& original, const LabelSet& target_set) const;
};

LabelMap LoadLabelMap(const std::string& path);
// configs/labels/<corpus>.yaml, searched in $FAS_CONFIG_DIR/labels, ./configs/labels, then the source tree's
// configs/labels; throws ConfigError listing the places looked at.
std::string LabelMapPath(const std::string& corpus);

// Counts of what a map did over a manifest, written into results and printed by preparers.
struct LabelMapReport {
  std::map<std::string, int> mapped;   // "exc->happy": count (and "neu->neutral" ...)
  std::map<std::string, int> dropped;  // original label: count
  int kept = 0;
  // Counts one decision of LabelMap::Apply: `result` "" is a drop; a different name is a mapping.
  void Record(const std::string& original, const std::string& result);
  std::string Summary() const;  // one line: "kept 120, mapped 30 (exc->happy 30), dropped 12 (fru 10, xxx 2)"
};

}  // namespace fas

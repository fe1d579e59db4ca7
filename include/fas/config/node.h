// A configuration tree that remembers where every value came from (file and line), so that an unknown key or a
// wrong type can be reported as `configs/x.yaml:12`. yaml-cpp stays inside config/*.cpp.
#pragma once

#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

namespace fas {

struct ConfigNode {
  enum class Kind { kNull, kScalar, kMap, kSeq };
  Kind kind = Kind::kNull;
  std::string scalar;
  std::vector<std::pair<std::string, ConfigNode>> map;  // insertion order kept for printing
  std::vector<ConfigNode> seq;
  std::string file;  // where the value was set: a path, or "--set"
  int line = 0;      // 1-based; 0 when not from a file

  std::string Where() const;  // "file:line" or "file"
  const ConfigNode* Find(const std::string& key) const;
  ConfigNode* FindOrAdd(const std::string& key);
};

// Parses one YAML file (following `extends:` chains, relative to the file) into a tree.
ConfigNode LoadYamlFile(const std::string& path);
// Parses YAML text (for tests and --set values); `origin` names it in messages.
ConfigNode ParseYaml(const std::string& text, const std::string& origin);

// Merges `over` into `base`: maps merge key by key, anything else replaces.
void MergeInto(ConfigNode& base, const ConfigNode& over);

// Applies `a.b.c=value` (value parsed as YAML: scalars, [lists], {maps}).
void ApplySet(ConfigNode& root, const std::string& assignment);

// Loads and merges several files (later wins), then applies the --set assignments (which win over files).
ConfigNode LoadConfigTree(const std::vector<std::string>& files, const std::vector<std::string>& sets);

// Prints a tree as YAML.
std::string ToYaml(const ConfigNode& node);

}  // namespace fas

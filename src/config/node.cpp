#include "fas/config/node.h"

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>

#include "fas/core/error.h"

namespace fs = std::filesystem;

namespace fas {

std::string ConfigNode::Where() const {
  if (file.empty()) return "<default>";
  return line > 0 ? file + ":" + std::to_string(line) : file;
}

const ConfigNode* ConfigNode::Find(const std::string& key) const {
  for (const auto& [k, v] : map)
    if (k == key) return &v;
  return nullptr;
}

ConfigNode* ConfigNode::FindOrAdd(const std::string& key) {
  for (auto& [k, v] : map)
    if (k == key) return &v;
  map.emplace_back(key, ConfigNode{});
  return &map.back().second;
}

namespace {

ConfigNode Convert(const YAML::Node& y, const std::string& origin) {
  ConfigNode n;
  n.file = origin;
  n.line = y.Mark().line >= 0 ? y.Mark().line + 1 : 0;
  switch (y.Type()) {
    case YAML::NodeType::Scalar:
      n.kind = ConfigNode::Kind::kScalar;
      n.scalar = y.Scalar();
      break;
    case YAML::NodeType::Sequence:
      n.kind = ConfigNode::Kind::kSeq;
      for (const auto& item : y) n.seq.push_back(Convert(item, origin));
      break;
    case YAML::NodeType::Map:
      n.kind = ConfigNode::Kind::kMap;
      for (const auto& kv : y) {
        const std::string key = kv.first.as<std::string>();
        if (n.Find(key) != nullptr) {
          throw ConfigError("duplicate config key '" + key + "' (" + origin + ":" +
                            std::to_string(kv.first.Mark().line + 1) + ")");
        }
        ConfigNode child = Convert(kv.second, origin);
        // A null value's mark is unreliable; use the key's line so messages point at it.
        child.line = kv.first.Mark().line + 1;
        n.map.emplace_back(key, std::move(child));
      }
      break;
    default:
      n.kind = ConfigNode::Kind::kNull;
  }
  return n;
}

ConfigNode LoadYamlFileImpl(const std::string& path, std::set<std::string>& chain) {
  std::error_code ec;
  const std::string canonical = fs::weakly_canonical(path, ec).string();
  if (!fs::is_regular_file(path)) {
    throw ConfigError("config file not found: " + path);
  }
  if (!chain.insert(canonical).second) {
    throw ConfigError("config 'extends:' loops back to " + path);
  }
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  ConfigNode node = ParseYaml(ss.str(), path);
  if (node.kind == ConfigNode::Kind::kNull) node.kind = ConfigNode::Kind::kMap;
  if (node.kind != ConfigNode::Kind::kMap) {
    throw ConfigError("config file " + path + " must hold a mapping of keys to values at the top level");
  }
  // `extends: base.yaml` (or a list of them) is merged first; this file's values override it.
  const ConfigNode* ext = node.Find("extends");
  if (ext == nullptr) return node;
  std::vector<std::string> bases;
  if (ext->kind == ConfigNode::Kind::kScalar) {
    bases.push_back(ext->scalar);
  } else if (ext->kind == ConfigNode::Kind::kSeq) {
    for (const auto& b : ext->seq) bases.push_back(b.scalar);
  } else {
    throw ConfigError("'extends' (" + ext->Where() + ") must be a file name or a list of them");
  }
  ConfigNode merged;
  merged.kind = ConfigNode::Kind::kMap;
  merged.file = path;
  for (const auto& b : bases) {
    const fs::path base_path = fs::path(b).is_absolute() ? fs::path(b) : fs::path(path).parent_path() / b;
    MergeInto(merged, LoadYamlFileImpl(base_path.string(), chain));
  }
  ConfigNode own = node;
  own.map.erase(std::remove_if(own.map.begin(), own.map.end(), [](const auto& kv) { return kv.first == "extends"; }),
                own.map.end());
  MergeInto(merged, own);
  chain.erase(canonical);
  return merged;
}

}  // namespace

ConfigNode ParseYaml(const std::string& text, const std::string& origin) {
  try {
    return Convert(YAML::Load(text), origin);
  } catch (const YAML::Exception& e) {
    throw ConfigError("cannot parse YAML in " + origin + ":" + std::to_string(e.mark.line + 1) + ": " + e.msg);
  }
}

ConfigNode LoadYamlFile(const std::string& path) {
  std::set<std::string> chain;
  return LoadYamlFileImpl(path, chain);
}

void MergeInto(ConfigNode& base, const ConfigNode& over) {
  if (base.kind == ConfigNode::Kind::kMap && over.kind == ConfigNode::Kind::kMap) {
    for (const auto& [k, v] : over.map) MergeInto(*base.FindOrAdd(k), v);
    base.file = over.file;
    base.line = over.line;
    return;
  }
  base = over;
}

void ApplySet(ConfigNode& root, const std::string& assignment) {
  const auto eq = assignment.find('=');
  if (eq == std::string::npos || eq == 0) {
    throw ConfigError("--set '" + assignment + "' must look like key.subkey=value");
  }
  const std::string key = assignment.substr(0, eq);
  ConfigNode value = ParseYaml(assignment.substr(eq + 1), "--set " + key);
  if (value.kind == ConfigNode::Kind::kNull) {
    value.kind = ConfigNode::Kind::kScalar;  // `key=` sets an empty string
  }
  if (root.kind == ConfigNode::Kind::kNull) root.kind = ConfigNode::Kind::kMap;
  ConfigNode* node = &root;
  std::stringstream ss(key);
  std::string part;
  std::vector<std::string> parts;
  while (std::getline(ss, part, '.')) parts.push_back(part);
  for (size_t i = 0; i < parts.size(); ++i) {
    if (parts[i].empty()) throw ConfigError("--set '" + assignment + "' has an empty key part");
    if (node->kind == ConfigNode::Kind::kNull) node->kind = ConfigNode::Kind::kMap;
    if (node->kind != ConfigNode::Kind::kMap) {
      const std::string parent = i == 0 ? std::string("the config root") : "'" + parts[i - 1] + "'";
      throw ConfigError("--set '" + assignment + "': " + parent + " is not a mapping (" + node->Where() + ")");
    }
    node = node->FindOrAdd(parts[i]);
  }
  MergeInto(*node, value);
}

ConfigNode LoadConfigTree(const std::vector<std::string>& files, const std::vector<std::string>& sets) {
  ConfigNode root;
  root.kind = ConfigNode::Kind::kMap;
  for (const auto& f : files) MergeInto(root, LoadYamlFile(f));
  for (const auto& s : sets) ApplySet(root, s);
  return root;
}

namespace {
void Emit(YAML::Emitter& e, const ConfigNode& n) {
  switch (n.kind) {
    case ConfigNode::Kind::kNull:
      e << YAML::Null;
      break;
    case ConfigNode::Kind::kScalar:
      e << n.scalar;
      break;
    case ConfigNode::Kind::kSeq:
      e << YAML::BeginSeq;
      for (const auto& s : n.seq) Emit(e, s);
      e << YAML::EndSeq;
      break;
    case ConfigNode::Kind::kMap:
      e << YAML::BeginMap;
      for (const auto& [k, v] : n.map) {
        e << YAML::Key << k << YAML::Value;
        Emit(e, v);
      }
      e << YAML::EndMap;
      break;
  }
}
}  // namespace

std::string ToYaml(const ConfigNode& node) {
  YAML::Emitter e;
  Emit(e, node);
  return std::string(e.c_str()) + "\n";
}

}  // namespace fas

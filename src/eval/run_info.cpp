#include "fas/eval/run_info.h"

#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "config_tree.h"
#include "fas/config/node.h"
#include "fas/core/error.h"
#include "fas/io/json_value.h"
#include "fas/io/safetensors.h"

namespace fs = std::filesystem;

namespace fas {

namespace {

// The field `key` of `j` (an object), read into `out`; `where` names the field in the message ("model.head").
template <class T>
void Field(const nlohmann::json& j, const char* key, const std::string& where, const std::string& path, T& out,
           bool required) {
  const auto it = j.find(key);
  if (it == j.end()) {
    if (required) throw DataError(path + ": field '" + where + "' is missing");
    return;
  }
  if (!JsonTo(*it, out)) throw DataError(path + ": field '" + where + "' has the wrong type (" + it->dump() + ")");
}

const nlohmann::json* Object(const nlohmann::json& j, const char* key, const std::string& where,
                             const std::string& path, bool required) {
  const auto it = j.find(key);
  if (it == j.end()) {
    if (required) throw DataError(path + ": field '" + where + "' is missing");
    return nullptr;
  }
  if (!it->is_object()) throw DataError(path + ": field '" + where + "' is not an object");
  return &*it;
}

// An integral value as a JSON integer (k_aco: 8, not 8.0), anything else as a double.
nlohmann::json Number(double v) {
  if (std::isfinite(v) && v == std::trunc(v) && std::fabs(v) < 9.0e15) return static_cast<int64_t>(v);
  return v;
}

std::string ScalarAt(const ConfigNode& root, const std::vector<std::string>& keys) {
  const ConfigNode* n = NodeAt(root, keys);
  return n != nullptr && n->kind == ConfigNode::Kind::kScalar ? n->scalar : "";
}

std::optional<double> ParseNumber(const std::string& s) {
  if (s.empty()) return std::nullopt;
  char* end = nullptr;
  const double v = std::strtod(s.c_str(), &end);
  if (*end != '\0') return std::nullopt;
  return v;
}

}  // namespace

void WriteRunInfo(const std::string& path, const RunInfo& info) {
  nlohmann::ordered_json fusion = nlohmann::ordered_json::object();
  for (const auto& [key, value] : info.fusion) fusion[key] = Number(value);
  nlohmann::ordered_json j;
  j["format"] = info.format;
  j["fas"] = info.fas_version;
  j["task"] = info.task;
  j["name"] = info.name;
  j["seed"] = info.seed;
  j["model"] = {{"head", info.head}, {"acoustic", info.acoustic}, {"semantic", info.semantic}, {"fusion", fusion}};
  j["labels"] = info.labels;
  WriteFileAtomic(path, j.dump(2) + "\n");
}

std::optional<RunInfo> ReadRunInfo(const std::string& run_dir) {
  const std::string path = (fs::path(run_dir) / "run.json").string();
  std::error_code ec;
  if (!fs::exists(path, ec)) return std::nullopt;
  std::ifstream in(path);
  if (!in) throw IoError("cannot read " + path);
  std::stringstream text;
  text << in.rdbuf();
  nlohmann::json j = nlohmann::json::parse(text.str(), nullptr, false);
  if (j.is_discarded()) throw DataError(path + ": not valid JSON");
  if (!j.is_object()) throw DataError(path + ": not a JSON object");
  RunInfo info;
  Field(j, "format", "format", path, info.format, true);
  if (info.format > RunInfo::kFormat || info.format < 1) {
    throw DataError(path + ": format " + std::to_string(info.format) + " is not one this fas reads (1 to " +
                    std::to_string(RunInfo::kFormat) + "); a newer fas wrote it");
  }
  Field(j, "fas", "fas", path, info.fas_version, false);
  Field(j, "task", "task", path, info.task, true);
  if (info.task != "ser" && info.task != "asr") {
    throw DataError(path + ": field 'task' is '" + info.task + "' (known: ser, asr)");
  }
  Field(j, "name", "name", path, info.name, true);
  Field(j, "seed", "seed", path, info.seed, true);
  const nlohmann::json& model = *Object(j, "model", "model", path, true);
  Field(model, "head", "model.head", path, info.head, true);
  Field(model, "acoustic", "model.acoustic", path, info.acoustic, false);
  Field(model, "semantic", "model.semantic", path, info.semantic, false);
  if (const nlohmann::json* fusion = Object(model, "fusion", "model.fusion", path, false)) {
    for (const auto& [key, value] : fusion->items()) {
      Field(*fusion, key.c_str(), "model.fusion." + key, path, info.fusion[key], true);
    }
  }
  Field(j, "labels", "labels", path, info.labels, false);
  return info;
}

RunInfo RunInfoFromConfigYaml(const std::string& config_yaml) {
  const ConfigNode root = LoadYamlFile(config_yaml);
  RunInfo info;
  info.task = ScalarAt(root, {"task"});
  if (info.task.empty()) info.task = "ser";
  info.name = ScalarAt(root, {"name"});
  if (const std::string seed = ScalarAt(root, {"seed"}); !seed.empty()) {
    const auto v = ParseNumber(seed);
    if (!v || *v < 0 || *v != std::trunc(*v)) throw DataError(config_yaml + ": seed is not a seed ('" + seed + "')");
    info.seed = static_cast<uint64_t>(*v);
  }
  info.head = ScalarAt(root, {"model", "head"});
  info.acoustic = ScalarAt(root, {"model", "acoustic", "encoder", "type"});
  info.semantic = ScalarAt(root, {"model", "semantic", "type"});
  if (const ConfigNode* fusion = NodeAt(root, {"model", "fusion"}); fusion && fusion->kind == ConfigNode::Kind::kMap) {
    for (const auto& [key, node] : fusion->map) {
      if (node.kind != ConfigNode::Kind::kScalar) continue;
      if (const auto v = ParseNumber(node.scalar)) info.fusion[key] = *v;
    }
  }
  return info;
}

std::optional<RunInfo> LoadRunInfo(const std::string& run_dir) {
  if (auto info = ReadRunInfo(run_dir)) return info;
  const fs::path config = fs::path(run_dir) / "config.yaml";
  std::error_code ec;
  if (!fs::exists(config, ec)) return std::nullopt;
  return RunInfoFromConfigYaml(config.string());
}

}  // namespace fas

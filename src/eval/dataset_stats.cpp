#include "fas/eval/dataset_stats.h"

#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <set>

#include "fas/core/error.h"

namespace fs = std::filesystem;

namespace fas {

namespace {

nlohmann::json ReadJson(const std::string& path) {
  std::ifstream in(path);
  if (!in) throw IoError("cannot read " + path);
  const nlohmann::json j = nlohmann::json::parse(in, nullptr, false);
  if (j.is_discarded() || !j.is_object()) throw DataError(path + ": not a JSON object");
  return j;
}

// Each JSON line's `key` by its `id`; lines without an id are skipped. Empty when the file is not there.
std::map<std::string, nlohmann::json> FieldById(const std::string& path, const char* key) {
  std::map<std::string, nlohmann::json> out;
  std::ifstream in(path);
  std::string line;
  for (int number = 1; std::getline(in, line); ++number) {
    if (line.empty()) continue;
    const nlohmann::json j = nlohmann::json::parse(line, nullptr, false);
    if (j.is_discarded() || !j.is_object()) throw DataError(path + ":" + std::to_string(number) + ": not JSON");
    const auto id = j.find("id");
    if (id == j.end() || !id->is_string()) continue;
    out[id->get<std::string>()] = j.value(key, nlohmann::json());
  }
  return out;
}

std::string FindManifest(const std::string& manifest, const std::string& recorded_run, const std::string& run_dir) {
  std::error_code ec;
  if (manifest.empty()) return "";
  if (fs::exists(manifest, ec)) return manifest;
  const std::string now = fs::path(run_dir).lexically_normal().string();
  const std::string then = fs::path(recorded_run).lexically_normal().string();
  if (then.empty() || now.size() < then.size() || now.compare(now.size() - then.size(), then.size(), then) != 0) {
    return "";
  }
  const fs::path there = fs::path(now.substr(0, now.size() - then.size())) / manifest;
  return fs::exists(there, ec) ? there.string() : "";
}

}  // namespace

SetStatistics ReadSetStatistics(const RunResult& r) {
  const nlohmann::json results = ReadJson(r.path);
  SetStatistics s;
  s.dataset = r.dataset;
  s.utterances = r.n;
  s.manifest = results.value("manifest", std::string());
  if (const auto per_class = results.find("per_class"); per_class != results.end() && per_class->is_object()) {
    for (const auto& label : results.value("labels", std::vector<std::string>())) {
      if (per_class->contains(label) && (*per_class)[label].value("support", 0) > 0) s.classes.push_back(label);
    }
  }
  if (const auto map = results.find("label_map"); map != results.end() && map->is_object()) {
    const nlohmann::json dropped = map->value("dropped", nlohmann::json::object());
    for (const auto& [label, count] : dropped.items()) {
      if (count.is_number()) s.dropped += count.get<int64_t>();
    }
  }
  const std::string manifest = FindManifest(s.manifest, results.value("run", std::string()), r.run_dir);
  if (manifest.empty()) return s;
  const auto durations = FieldById(manifest, "duration");
  // The scored utterances: the labelled lines of predictions.jsonl, else the whole manifest.
  const auto labels = FieldById((fs::path(r.path).parent_path() / "predictions.jsonl").string(), "label");
  std::set<std::string> scored;
  for (const auto& [id, label] : labels) {
    if (label.is_string() && !label.get<std::string>().empty()) scored.insert(id);
  }
  double seconds = 0;
  for (const auto& [id, duration] : durations) {
    if (!labels.empty() && !scored.count(id)) continue;
    if (duration.is_number() && duration.get<double>() >= 0) {
      seconds += duration.get<double>();
    } else {
      ++s.without_duration;
    }
  }
  if (s.without_duration == 0) s.hours = seconds / 3600.0;
  return s;
}

}  // namespace fas

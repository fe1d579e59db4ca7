#include "fas/eval/run_results.h"

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "fas/core/error.h"
#include "fas/eval/run_info.h"

namespace fs = std::filesystem;

namespace fas {

namespace {

double Number(const nlohmann::json& j, const char* key, const std::string& path) {
  const auto it = j.find(key);
  if (it == j.end() || !it->is_number()) {
    throw DataError(path + ": '" + key + "' is missing or not a number");
  }
  return it->get<double>();
}

std::optional<double> OptionalNumber(const nlohmann::json& j, const char* key) {
  const auto it = j.find(key);
  if (it == j.end() || !it->is_number()) return std::nullopt;
  return it->get<double>();
}

// The figures of one results.json; `fusion_from_results` receives its own `fusion` object, which wins over the
// run's (an evaluation may record the settings it ran with).
RunResult ParseResults(const std::string& results_json, nlohmann::json& fusion_from_results) {
  std::ifstream in(results_json);
  if (!in) throw IoError("cannot read " + results_json);
  nlohmann::json j;
  try {
    j = nlohmann::json::parse(in);
  } catch (const nlohmann::json::exception& e) {
    throw DataError(results_json + ": not valid JSON (" + e.what() + ")");
  }
  if (!j.is_object()) throw DataError(results_json + ": not a JSON object");
  RunResult r;
  r.path = results_json;
  const fs::path dir = fs::path(results_json).parent_path();
  r.run_dir = dir.parent_path().filename() == "eval" ? dir.parent_path().parent_path().string() : dir.string();
  for (const char* key : {"model", "dataset"}) {
    if (!j.contains(key) || !j[key].is_string()) throw DataError(results_json + ": '" + key + "' is missing");
  }
  r.model = j["model"].get<std::string>();
  r.head = j.value("head", std::string());
  r.dataset = j["dataset"].get<std::string>();
  r.seed = static_cast<uint64_t>(Number(j, "seed", results_json));
  r.n = static_cast<int64_t>(Number(j, "n", results_json));
  r.acc = Number(j, "acc", results_json);
  r.ua = Number(j, "ua", results_json);
  r.macro_f1 = Number(j, "macro_f1", results_json);
  r.weighted_f1 = Number(j, "weighted_f1", results_json);
  if (const auto it = j.find("conflict"); it != j.end() && it->is_object()) {
    r.conflict_n = static_cast<int64_t>(OptionalNumber(*it, "n").value_or(0));
    r.conflict_acc = OptionalNumber(*it, "acc");
    r.semantic_bias_rate = OptionalNumber(*it, "semantic_bias_rate");
  }
  if (const auto it = j.find("congruent"); it != j.end() && it->is_object()) {
    r.congruent_n = static_cast<int64_t>(OptionalNumber(*it, "n").value_or(0));
    r.congruent_acc = OptionalNumber(*it, "acc");
  }
  if (const auto p = OptionalNumber(j, "trainable_parameters")) r.trainable_parameters = static_cast<int64_t>(*p);
  if (r.head.empty()) r.head = BaseModel(r.model);
  if (const auto it = j.find("fusion"); it != j.end() && it->is_object()) fusion_from_results = *it;
  return r;
}

// Joins a result with what its run is: the run's name and head over what results.json says, then results.json's
// own fusion settings over the run's.
void Join(RunResult& r, const std::optional<RunInfo>& info, const nlohmann::json& fusion_from_results) {
  if (info) {
    if (!info->name.empty()) r.model = info->name;
    if (!info->head.empty()) r.head = info->head;
    r.fusion = info->fusion;
  }
  for (const auto& [k, v] : fusion_from_results.items()) {
    if (v.is_number()) r.fusion[k] = v.get<double>();
  }
}

}  // namespace

std::string BaseModel(const std::string& model) { return model.substr(0, model.find('@')); }

bool IsSweepCell(const std::string& model) { return model.find('@') != std::string::npos; }

RunResult ReadRunResult(const std::string& results_json) {
  nlohmann::json fusion;
  RunResult r = ParseResults(results_json, fusion);
  Join(r, LoadRunInfo(r.run_dir), fusion);
  return r;
}

std::vector<RunResult> CollectRunResults(const std::string& dir) {
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) throw IoError("'" + dir + "' is not a folder");
  std::vector<std::string> paths;
  for (auto it = fs::recursive_directory_iterator(dir, fs::directory_options::skip_permission_denied, ec);
       it != fs::recursive_directory_iterator(); it.increment(ec)) {
    if (ec) throw IoError("cannot list " + dir + ": " + ec.message());
    if (it->path().filename() == "results.json" && it->is_regular_file()) paths.push_back(it->path().string());
  }
  std::sort(paths.begin(), paths.end());
  std::map<std::string, std::optional<RunInfo>> runs;
  std::vector<RunResult> out;
  for (const auto& p : paths) {
    nlohmann::json fusion;
    RunResult r = ParseResults(p, fusion);
    auto known = runs.find(r.run_dir);
    if (known == runs.end()) known = runs.emplace(r.run_dir, LoadRunInfo(r.run_dir)).first;
    Join(r, known->second, fusion);
    out.push_back(std::move(r));
  }
  return out;
}

}  // namespace fas

#include "fas/tasks/ser/experiment_config.h"

#include <algorithm>
#include <filesystem>
#include <optional>
#include <set>

#include "fas/config/binder.h"
#include "fas/core/device.h"
#include "fas/core/error.h"
#include "fas/tasks/ser/feature_cache.h"
#include "fas/tasks/ser/ser_dataset.h"

namespace fas {

std::string DataConfig::Resolve(const std::string& manifest) const {
  if (manifest.empty() || root.empty() || std::filesystem::path(manifest).is_absolute()) return manifest;
  return (std::filesystem::path(root) / manifest).string();
}

std::string DataConfig::ResolvedCacheDir() const { return cache_dir.empty() ? DefaultFeatureCacheDir() : cache_dir; }

FeatureStoreOptions DataConfig::StoreOptions() const {
  FeatureStoreOptions o;
  o.dtype = cache_dtype;
  o.precision = extract_precision;
  o.shard_bytes = std::max<int64_t>(1, static_cast<int64_t>(cache_shard_mb * (1 << 20)));
  return o;
}

void ExperimentConfig::Validate() const {
  if (name.empty()) throw ConfigError("name must not be empty (it names the run directory)");
  if (task != "ser" && task != "asr") throw ConfigError("task '" + task + "' is unknown; use ser or asr");
  if (task == "asr") {
    throw ConfigError("task: asr is an ASR experiment (a CTC recogniser, fas/tasks/asr/asr_task.h): fas train runs "
                      "it, fas transcribe --backend ctc --model RUN uses the result; this command reads task: ser "
                      "experiments only");
  }
  model.Validate();
  train.Validate();
  for (const auto& [key, on] : {std::pair{"modality_dropout", train.modality_dropout.enabled()},
                                std::pair{"counterfactual", train.counterfactual.enabled()}}) {
    const HeadStreams streams = FusionHeadStreams(model.head);
    if (on && (!streams.acoustic || !streams.semantic)) {
      throw ConfigError(std::string("train.") + key + " needs a head that reads both pathways; model.head '" +
                        model.head + "' reads one");
    }
  }
  if (data.train.empty()) throw ConfigError("data.train must name the training manifest");
  if (data.dev.empty()) throw ConfigError("data.dev must name the dev manifest (evaluation during training)");
  ValidateLabelField(data.label_field);
  ValidateDeviceSpec(device, "device");
  if (data.extract_precision != "auto") ParsePrecision(data.extract_precision, "data.extract_precision");
  StoreDType(data.cache_dtype);
  if (!(data.cache_shard_mb > 0)) throw ConfigError("data.cache_shard_mb must be > 0, got " + std::to_string(data.cache_shard_mb));
  try {
    data.loader.Validate();
  } catch (const ConfigError& e) {
    throw ConfigError(std::string("data: ") + e.what());
  }
  ValidateEvalSets(eval);
}

void ValidateEvalSets(const std::vector<EvalSetConfig>& eval) {
  std::set<std::string> names;
  for (size_t i = 0; i < eval.size(); ++i) {
    const std::string where = "eval[" + std::to_string(i) + "]";
    if (eval[i].name.empty() || eval[i].name.find('/') != std::string::npos || eval[i].name[0] == '.') {
      throw ConfigError(where + ".name '" + eval[i].name + "' must be a plain folder name");
    }
    if (eval[i].manifest.empty()) throw ConfigError(where + ".manifest must name a manifest");
    if (!names.insert(eval[i].name).second) throw ConfigError(where + ".name '" + eval[i].name + "' is used twice");
  }
}

ExperimentConfig LoadExperimentConfig(const std::vector<std::string>& files, const std::vector<std::string>& sets,
                                      bool run_config) {
  ConfigNode tree = LoadConfigTree(files, sets);
  std::optional<ConfigNode> text_field;
  if (const ConfigNode* data = tree.Find("data"); data != nullptr && data->kind == ConfigNode::Kind::kMap) {
    auto& fields = tree.FindOrAdd("data")->map;
    const auto it = std::find_if(fields.begin(), fields.end(), [](const auto& f) { return f.first == "text_field"; });
    if (it != fields.end()) {
      text_field = it->second;
      fields.erase(it);
    }
  }
  ExperimentConfig cfg = BindConfig<ExperimentConfig>(tree);
  const bool written_by_fas = run_config && text_field && text_field->file.rfind("--set", 0) != 0;
  if (text_field && !written_by_fas && text_field->kind != ConfigNode::Kind::kNull &&
      text_field->scalar != cfg.model.semantic.text_field) {
    throw ConfigError("config key 'data.text_field' (" + text_field->Where() + ") is not read: an SER model reads "
                      "its transcript from model.semantic.text_field (now '" + cfg.model.semantic.text_field +
                      "'); set model.semantic.text_field: " + text_field->scalar + " instead, and drop "
                      "data.text_field");
  }
  cfg.Validate();
  return cfg;
}

std::pair<std::string, std::string> ComparableRunConfigs(const ExperimentConfig& given,
                                                         const ExperimentConfig& stored, bool plan_may_change) {
  ExperimentConfig g = given, s = stored;
  if (g.model.semantic.tokenizer.model.empty()) g.model.semantic.tokenizer = s.model.semantic.tokenizer;
  if (plan_may_change) s.train.TakePlanFrom(g.train);
  s.eval = g.eval;
  s.device = g.device;  // where a run computes is not what it is: a run moves between machines
  return {ConfigToString(g), ConfigToString(s)};
}

}  // namespace fas

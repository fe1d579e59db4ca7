// The SER commands on a finished (or stopped) run folder: fas eval, fas predict; and fas extract on a config.
#include <spdlog/spdlog.h>

#include <filesystem>
#include <optional>

#include "fas/audio/audio.h"
#include "fas/audio/features.h"
#include "fas/core/device.h"
#include "fas/core/error.h"
#include "fas/core/runtime.h"
#include "fas/engine/checkpoint_folder.h"
#include "fas/eval/run_info.h"
#include "fas/io/state_dict.h"
#include "fas/tasks/ser/ser_task.h"
#include "ser_predict.h"

namespace fs = std::filesystem;

namespace fas {

// The class names the run was trained with: run.json of the checkpoint used (or of the run folder). A run written
// before run.json existed takes the labels file its config names, as it reads now.
LabelSet RunLabels(const ExperimentConfig& cfg, const std::string& run_dir) {
  std::optional<RunInfo> info = ReadRunInfo(CheckpointForEval(run_dir));
  if (!info) info = ReadRunInfo(run_dir);
  if (!info || info->labels.empty()) return LoadLabels(cfg.data);
  LabelSet stored;
  stored.name = "run";
  stored.names = info->labels;
  if (!cfg.data.labels.empty() && fs::exists(cfg.data.labels)) {
    const LabelSet now = LoadLabelSet(cfg.data.labels);
    if (now.names != stored.names) {
      std::string names;
      for (const auto& n : stored.names) names += (names.empty() ? "" : ", ") + n;
      spdlog::warn("{} has changed since run '{}' was trained: the run's classes are used ({})", cfg.data.labels,
                   run_dir, names);
    }
  }
  return stored;
}

SerModel LoadRunModel(const ExperimentConfig& cfg, const std::string& run_dir, const LabelSet& labels) {
  SeedEverything(cfg.seed);
  SerModel model = BuildModel(cfg.model, labels);
  model->to(ComputeDevice());
  const std::string ckpt = CheckpointForEval(run_dir);
  LoadStateDict(*model, ckpt + "/model.safetensors", NameMap{});
  spdlog::info("loaded {}", ckpt);
  model->eval();
  return model;
}

ExperimentConfig LoadRunConfig(const std::string& run_dir) {
  const std::string path = run_dir + "/config.yaml";
  if (!fs::exists(path)) throw IoError("'" + run_dir + "' is not a run directory (no config.yaml)");
  return LoadExperimentConfig({path}, {}, true);
}

void UseRunDevice(const std::string& run_dir, const std::string& option) {
  if (!option.empty()) {
    UseDevice(option, "--device");
    return;
  }
  UseDevice(LoadRunConfig(run_dir).device, run_dir + "/config.yaml: device (or give --device)");
}

EvalMetrics EvaluateRun(const std::string& run_dir, const std::string& manifest, const std::string& name,
                        const std::string& label_map, bool skip_bad) {
  ExperimentConfig cfg = LoadRunConfig(run_dir);
  if (skip_bad) cfg.data.loader.skip_bad = true;
  const LabelSet labels = RunLabels(cfg, run_dir);
  SerModel model = LoadRunModel(cfg, run_dir, labels);
  // In the precision the run trained and chose its checkpoint in, as its own final evaluation was.
  const Autocast autocast(ComputeDevice(), ParsePrecision(cfg.train.precision, "train.precision"));
  return EvaluateInto(model, nullptr, cfg, run_dir, manifest, name,
                      LoadMap(label_map.empty() ? cfg.data.label_map : label_map), labels);
}

std::vector<nlohmann::ordered_json> PredictFiles(const std::string& run_dir, const std::vector<std::string>& files,
                                                 const std::vector<std::string>& texts, const TranscriberConfig& asr) {
  const ExperimentConfig cfg = LoadRunConfig(run_dir);
  SerModel model = LoadRunModel(cfg, run_dir, RunLabels(cfg, run_dir));
  const bool reads_text = model->uses_semantic() && cfg.model.semantic.type == "text";
  std::vector<std::string> transcripts(files.size());
  std::vector<std::string> to_transcribe;
  for (size_t i = 0; i < files.size(); ++i) {
    transcripts[i] = i < texts.size() ? texts[i] : "";
    if (reads_text && transcripts[i].empty()) to_transcribe.push_back(files[i]);
  }
  if (!to_transcribe.empty()) {
    const auto heard = TranscribeFiles(to_transcribe, asr, 1);
    size_t k = 0;
    for (size_t i = 0; i < files.size(); ++i) {
      if (reads_text && transcripts[i].empty()) transcripts[i] = heard[k++];
    }
  }
  c10::InferenceMode inference;  // the encoders' CPU speed routes run only under it
  const Autocast autocast(ComputeDevice(), ParsePrecision(cfg.train.precision, "train.precision"));
  std::vector<nlohmann::ordered_json> out;
  for (size_t i = 0; i < files.size(); ++i) {
    std::vector<float> samples = ReadAudio(files[i], {cfg.data.loader.sample_rate});
    Normalize(samples, ParseNormalization(cfg.data.loader.normalize));
    SerInput in;
    in.waveform = torch::tensor(samples).unsqueeze(0);
    in.lengths = torch::tensor(std::vector<int64_t>{static_cast<int64_t>(samples.size())});
    if (reads_text) {
      const TokenBatch t = model->Tokenize({transcripts[i]});
      in.input_ids = t.input_ids;
      in.attention_mask = t.attention_mask;
    }
    const SerOutput o = model->Forward(in);
    const torch::Tensor probs = torch::softmax(o.logits.to(torch::kCPU, torch::kFloat64), 1)[0];
    nlohmann::ordered_json j;
    j["file"] = files[i];
    j["label"] = model->labels()[static_cast<size_t>(probs.argmax().item<int64_t>())];
    nlohmann::ordered_json p;
    for (size_t c = 0; c < model->labels().size(); ++c) p[model->labels()[c]] = probs[static_cast<int64_t>(c)].item<double>();
    j["probs"] = p;
    if (o.acoustic_share.defined()) {
      const double a = o.acoustic_share[0].item<double>();
      j["acoustic_share"] = a;
      j["semantic_share"] = 1.0 - a;
    }
    if (reads_text) j["transcript"] = transcripts[i];
    out.push_back(std::move(j));
  }
  return out;
}

int64_t ExtractFeatures(const ExperimentConfig& cfg, const std::string& rebuild_shard) {
  SeedEverything(cfg.seed);
  const LabelSet labels = LoadLabels(cfg.data);
  const std::optional<LabelMap> map = LoadMap(cfg.data.label_map);
  if (ReadsText(cfg.model) && cfg.model.semantic.tokenizer.model.empty()) {
    throw ConfigError("fas extract: model.semantic.tokenizer.model is empty; a frozen text encoder needs the "
                      "tokenizer it was trained with");
  }
  SerModel model = BuildModel(cfg.model, labels);
  model->to(ComputeDevice());
  FeatureCache cache(cfg.data.ResolvedCacheDir(), model, cfg.data.loader, cfg.data.StoreOptions());
  if (!cache.enabled()) {
    throw ConfigError("fas extract: no pathway of this model is frozen, so there is nothing to cache");
  }
  if (!rebuild_shard.empty()) cache.DropShard(rebuild_shard);
  std::vector<std::string> manifests = {cfg.data.train, cfg.data.dev};
  for (const auto& e : cfg.eval) manifests.push_back(e.manifest);
  int64_t computed = 0;
  for (const auto& m : manifests) {
    const SerDataset data(cfg.data.Resolve(m), labels, SerOptions(cfg, map));
    const CacheFillStats s = cache.Fill(data);
    spdlog::info("{}: {} computed, {} reused, {} skipped, {:.1f} s ({:.2f} h of audio encoded)",
                 data.manifest_path(), s.computed, s.reused, s.skipped.size(), s.seconds, s.audio_seconds / 3600);
    computed += s.computed;
  }
  return computed;
}

}  // namespace fas

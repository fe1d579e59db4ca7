#include "fas/tasks/asr/asr_task.h"

#include <spdlog/spdlog.h>

#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <sstream>

#include "fas/config/binder.h"
#include "fas/core/device.h"
#include "fas/core/error.h"
#include "fas/core/log.h"
#include "fas/core/runtime.h"
#include "fas/data/manifest.h"
#include "fas/io/safetensors.h"
#include "fas/text/normalize.h"
#include "fas/engine/task.h"

namespace fs = std::filesystem;

namespace fas {
namespace {

const std::string& ReferenceText(const Utterance& u, const std::string& field) {
  return field == "asr_text" ? u.asr_text : u.text;
}

// A manifest as an ASR dataset: emotion labels are not this task's business (a label outside the canonical set
// must not fail a recogniser's run), so they are dropped before the dataset resolves them; every utterance must
// have its reference transcript.
std::shared_ptr<const AudioDataset> LoadAsrDataset(const std::string& path, const AsrDataConfig& d) {
  ManifestReadOptions mo;
  mo.skip_bad = d.loader.skip_bad;
  Manifest m = ReadManifest(path, mo);
  for (auto& u : m.utterances) {
    if (ReferenceText(u, d.loader.text_field).empty()) {
      throw DataError(path + ":" + std::to_string(u.line) + ": utterance '" + u.id + "' has no `" +
                      d.loader.text_field + "` (the reference transcript an ASR run trains on and scores against)");
    }
    u.label.clear();
    u.text_label.clear();
  }
  DatasetOptions o;
  o.manifest = mo;
  return std::make_shared<const AudioDataset>(std::move(m), o);
}

// UTF-8 code points of the normalised text, spaces included: the tokens of the character error rate.
std::vector<std::string> Characters(const std::string& text, const NormalizeOptions& n) {
  const std::string s = NormalizeText(text, n);
  std::vector<std::string> out;
  for (size_t i = 0; i < s.size();) {
    const unsigned char c = static_cast<unsigned char>(s[i]);
    const size_t len = c < 0x80 ? 1 : (c >> 5) == 0x6 ? 2 : (c >> 4) == 0xE ? 3 : (c >> 3) == 0x1E ? 4 : 1;
    out.push_back(s.substr(i, len));
    i += len;
  }
  return out;
}

struct Transcripts {
  std::vector<std::string> hyps;  // by dataset index
  double loss_sum = 0;            // CTC loss summed over utterances (each per target character)
  int64_t loss_n = 0;
};

Transcripts Transcribe(CtcModel& model, const std::shared_ptr<const AudioDataset>& data, const LoaderConfig& loader,
                       int beam_width) {
  torch::NoGradGuard no_grad;
  const bool was_training = model->is_training();
  model->eval();
  Transcripts t;
  t.hyps.resize(static_cast<size_t>(data->size()));
  DataLoader dl(data, loader, /*train=*/false, 0);
  dl.StartEpoch(0);
  while (std::optional<Batch> b = dl.Next()) {
    const CtcOutput out = model->forward(b->waveform, b->lengths);
    std::vector<std::vector<int64_t>> targets;
    for (const auto& text : b->texts) targets.push_back(model->vocab().Encode(text, model->normalization()));
    const double loss = CtcLoss(out.logits, out.frame_lengths, targets, model->vocab().blank_id()).item<double>();
    t.loss_sum += loss * static_cast<double>(b->size());
    t.loss_n += b->size();
    const auto hyps = model->Decode(out, beam_width);
    for (size_t k = 0; k < hyps.size(); ++k) t.hyps[static_cast<size_t>(b->items[k])] = hyps[k];
  }
  model->train(was_training);
  return t;
}

AsrScores Score(const AudioDataset& data, const Transcripts& t, const std::string& field, const NormalizeOptions& n) {
  AsrScores s;
  for (int64_t i = 0; i < data.size(); ++i) {
    const std::string& ref = ReferenceText(data.utterance(i), field);
    const std::string& hyp = t.hyps[static_cast<size_t>(i)];
    s.words += ComputeWer(ref, hyp, n);
    s.chars += AlignWords(Characters(ref, n), Characters(hyp, n));
  }
  s.loss = t.loss_n > 0 ? t.loss_sum / static_cast<double>(t.loss_n) : std::nan("");
  return s;
}

nlohmann::ordered_json CountsJson(const WerCounts& c) {
  return {{"wer", c.Wer()},           {"substitutions", c.substitutions}, {"deletions", c.deletions},
          {"insertions", c.insertions}, {"ref_words", c.ref_words},       {"utterances", c.utterances}};
}

AsrScores EvaluateDataset(CtcModel& model, const std::shared_ptr<const AudioDataset>& data, const AsrDataConfig& d,
                          int beam_width, const std::string& out_dir, const std::string& name) {
  const Transcripts t = Transcribe(model, data, d.loader, beam_width);
  const NormalizeOptions& n = model->normalization();
  const AsrScores s = Score(*data, t, d.loader.text_field, n);
  if (out_dir.empty()) return s;

  fs::create_directories(out_dir);
  std::map<std::string, WerCounts> by_speaker;
  WerCounts own_asr;  // the manifest's asr_text (e.g. pocketsphinx's) on the utterances that have one
  std::ostringstream lines;
  for (int64_t i = 0; i < data->size(); ++i) {
    const Utterance& u = data->utterance(i);
    const std::string& ref = ReferenceText(u, d.loader.text_field);
    const std::string& hyp = t.hyps[static_cast<size_t>(i)];
    const WerCounts c = ComputeWer(ref, hyp, n);
    by_speaker[u.speaker] += c;
    if (d.loader.text_field != "asr_text" && !u.asr_text.empty()) own_asr += ComputeWer(ref, u.asr_text, n);
    nlohmann::ordered_json j = {{"id", u.id}, {"reference", NormalizeText(ref, n)}, {"hypothesis", hyp},
                                {"errors", c.Errors()}, {"ref_words", c.ref_words}};
    if (!u.speaker.empty()) j["speaker"] = u.speaker;
    lines << j.dump() << "\n";
  }
  nlohmann::ordered_json r;
  r["task"] = "asr";
  r["model"] = "ctc";
  r["dataset"] = name;
  r["manifest"] = data->manifest_path();
  r["text_field"] = d.loader.text_field;
  r["beam_width"] = beam_width;
  r["wer"] = s.words.Wer();
  r["cer"] = s.chars.Wer();
  r["loss"] = s.loss;
  r["words"] = CountsJson(s.words);
  nlohmann::ordered_json speakers = nlohmann::ordered_json::object();
  for (const auto& [spk, c] : by_speaker) {
    if (!spk.empty()) speakers[spk] = c.Wer();
  }
  r["wer_by_speaker"] = speakers;
  if (own_asr.utterances > 0) r["manifest_asr_text"] = CountsJson(own_asr);
  WriteFileAtomic(out_dir + "/results.json", r.dump(2) + "\n");
  WriteFileAtomic(out_dir + "/transcripts.jsonl", lines.str());
  spdlog::info("eval {}: {} | CER {:.2f}%{}", name.empty() ? data->manifest_path() : name, s.words.Summary(),
               100.0 * s.chars.Wer(),
               own_asr.utterances > 0 ? fmt::format(" | manifest asr_text WER {:.2f}%", 100.0 * own_asr.Wer()) : "");
  return s;
}

class CtcObjective : public TrainObjective {
 public:
  CtcObjective(const AsrExperimentConfig& cfg, CtcModel model, std::shared_ptr<const AudioDataset> train,
               std::shared_ptr<const AudioDataset> dev)
      : cfg_(cfg), model_(std::move(model)), train_(std::move(train)), dev_(std::move(dev)),
        loader_(train_, cfg.data.loader, /*train=*/true, cfg.seed) {}

  torch::nn::Module& model() override { return *model_; }
  std::vector<ParamGroup> ParameterGroups(const TrainConfig& c) override {
    // Frozen encoder parameters are included: AdamW skips a parameter until it has a gradient, so an encoder
    // unfrozen after N steps trains from then on.
    return {{"encoder", model_->encoder().parameters(), c.encoder_lr}, {"head", model_->lm_head->parameters(), c.lr}};
  }
  int64_t BatchesInEpoch(int64_t epoch) override {
    return static_cast<int64_t>(
        PlanBatches(train_->durations(), train_->labels(), cfg_.data.loader, true, cfg_.seed, epoch).batches.size());
  }
  void StartEpoch(int64_t epoch, int64_t first) override {
    loader_.StartEpoch(epoch);
    for (int64_t k = 0; k < first; ++k) loader_.Next();  // decoded and dropped: consumed before the resume
  }
  std::optional<BatchLoss> NextBatch() override {
    std::optional<Batch> b = loader_.Next();
    if (!b) return std::nullopt;
    return BatchLoss{model_->Loss({b->waveform, b->lengths, b->texts}), b->size()};
  }
  void AfterStep(int64_t step) override { model_->encoder().OnTrainStep(step); }
  std::map<std::string, double> EvaluateDev() override {
    const AsrScores s = EvaluateDataset(model_, dev_, cfg_.data, cfg_.model.beam_width, "", "");
    return {{"loss", s.loss}, {"wer", s.words.Wer()}, {"cer", s.chars.Wer()}};
  }
  // The checkpoint folder becomes a complete CTC model folder: config.json, vocab.json and
  // preprocessor_config.json beside the weights.
  void SaveWeights(const std::string& path) override {
    if (fs::path(path).filename() != "model.safetensors") {
      throw Error("CTC checkpoint weights must be named model.safetensors (asked for " + path + ")");
    }
    model_->SaveDir(fs::path(path).parent_path().string());
  }
  void LoadWeights(const std::string& path) override { model_->LoadWeights(path); }

 private:
  const AsrExperimentConfig& cfg_;
  CtcModel model_;
  std::shared_ptr<const AudioDataset> train_, dev_;
  DataLoader loader_;
};

}  // namespace

std::string AsrDataConfig::Resolve(const std::string& manifest) const {
  if (manifest.empty() || root.empty() || fs::path(manifest).is_absolute()) return manifest;
  return (fs::path(root) / manifest).string();
}

void AsrExperimentConfig::Validate() const {
  if (name.empty()) throw ConfigError("name must not be empty (it names the run directory)");
  if (task != "asr") throw ConfigError("task '" + task + "': an ASR experiment config has task: asr");
  ValidateDeviceSpec(device, "device");
  try {
    model.Validate();
  } catch (const ConfigError& e) {
    throw ConfigError(std::string("model: ") + e.what());
  }
  train.Validate();
  if (train.class_weighted) throw ConfigError("train.class_weighted has no meaning for task: asr (no classes)");
  if (train.label_smoothing != 0) throw ConfigError("train.label_smoothing has no meaning for task: asr (CTC loss)");
  if (train.modality_dropout.enabled() || train.counterfactual.enabled()) {
    throw ConfigError("train.modality_dropout and train.counterfactual have no meaning for task: asr (one pathway)");
  }
  if (data.train.empty()) throw ConfigError("data.train must name the training manifest");
  if (data.dev.empty()) throw ConfigError("data.dev must name the dev manifest (WER during training)");
  try {
    data.loader.Validate();
  } catch (const ConfigError& e) {
    throw ConfigError(std::string("data: ") + e.what());
  }
  if (data.loader.text_field != "text" && data.loader.text_field != "asr_text") {
    throw ConfigError("data.text_field '" + data.loader.text_field + "': an ASR run needs the reference transcript "
                      "field, text (or asr_text)");
  }
  if (data.loader.max_train_seconds > 0) {
    throw ConfigError("data.max_train_seconds must be 0 for task: asr: a crop would cut the audio but not its "
                      "transcript");
  }
  if (data.loader.class_balanced) throw ConfigError("data.class_balanced has no meaning for task: asr");
  ValidateEvalSets(eval);
}

AsrExperimentConfig LoadAsrExperimentConfig(const std::vector<std::string>& files,
                                            const std::vector<std::string>& sets) {
  AsrExperimentConfig cfg = LoadConfig<AsrExperimentConfig>(files, sets);
  cfg.Validate();
  return cfg;
}

AsrScores EvaluateCtc(CtcModel& model, const std::string& manifest, const AsrDataConfig& data, int beam_width,
                      const std::string& out_dir, const std::string& name) {
  return EvaluateDataset(model, LoadAsrDataset(manifest, data), data, beam_width, out_dir, name);
}

namespace {

// A resumed run must be the same run: only the plan and the final evaluations may change (as for SER runs).
void CheckSameConfig(const AsrExperimentConfig& given, const AsrExperimentConfig& stored, const std::string& run_dir) {
  AsrExperimentConfig expected = stored;
  AsrExperimentConfig g = given;
  if (g.model.vocab.empty()) g.model.vocab = stored.model.vocab;
  expected.train.TakePlanFrom(g.train);
  expected.eval = g.eval;
  expected.device = g.device;  // where a run computes is not what it is: a run moves between machines
  CheckSameRunConfig(ConfigToString(g), ConfigToString(expected), run_dir);
}

class AsrTask : public ConfiguredTask<AsrExperimentConfig> {
 public:
  using ConfiguredTask::ConfiguredTask;

  std::string kind() const override { return "asr"; }
  bool supports_data_parallel() const override { return false; }

  void AdoptRun(const std::string& stored_yaml, const std::string& run_dir) override {
    const AsrExperimentConfig stored = LoadAsrExperimentConfig({stored_yaml}, {});
    CheckSameConfig(cfg_, stored, run_dir);
    cfg_.model.vocab = stored.model.vocab;
  }

  void Prepare(const RunContext& run) override {
    train_ = LoadAsrDataset(cfg_.data.Resolve(cfg_.data.train), cfg_.data);
    dev_ = LoadAsrDataset(cfg_.data.Resolve(cfg_.data.dev), cfg_.data);
    spdlog::info("ASR run '{}' ({}): {} training ({:.0f} s) / {} dev utterances, reference `{}`, seed {}", cfg_.name,
                 run.run_dir, train_->size(), train_->total_seconds(), dev_->size(), cfg_.data.loader.text_field,
                 cfg_.seed);
    if (cfg_.model.vocab.empty()) {
      // The vocabulary becomes part of the run: a resumed run, and the checkpoints, use exactly these characters.
      std::vector<std::string> texts;
      for (const auto& u : train_->utterances()) texts.push_back(ReferenceText(u, cfg_.data.loader.text_field));
      cfg_.model.vocab = run.run_dir + "/vocab.json";
      CtcVocabFromTexts(cfg_.model, texts).Save(cfg_.model.vocab);
    }
  }

  RunInfo Describe() const override {
    RunInfo info;
    info.task = kind();
    info.name = cfg_.name;
    info.seed = cfg_.seed;
    info.head = "ctc";
    info.acoustic = cfg_.model.encoder.type;
    return info;
  }

  TrainObjective& Objective(const RunContext&) override {
    model_ = CreateCtcModel(cfg_.model);
    model_->to(ComputeDevice());
    model_->set_audio_normalize(cfg_.data.loader.normalize);
    int64_t trainable = 0;
    for (const auto& p : model_->parameters()) trainable += p.requires_grad() ? p.numel() : 0;
    spdlog::info("CTC model: {} encoder, {} output tokens, {} trainable parameters", cfg_.model.encoder.type,
                 model_->vocab().size(), trainable);
    objective_ = std::make_unique<CtcObjective>(cfg_, model_, train_, dev_);
    return *objective_;
  }

  // What the untrained model scores: the baseline the trained one is compared with.
  void BeforeTraining(const RunContext& run) override {
    const AsrScores s = EvaluateDataset(model_, dev_, cfg_.data, cfg_.model.beam_width, "", "");
    nlohmann::ordered_json j = {{"step", 0}, {"wer", s.words.Wer()}, {"cer", s.chars.Wer()}, {"loss", s.loss}};
    WriteFileAtomic(run.run_dir + "/dev_initial.json", j.dump(2) + "\n");
    spdlog::info("untrained model on dev: WER {:.2f}% CER {:.2f}% loss {:.4f}", 100.0 * s.words.Wer(),
                 100.0 * s.chars.Wer(), s.loss);
  }

  void EvaluateFinal(const RunContext& run) override {
    for (const auto& e : cfg_.eval) {
      EvaluateCtc(model_, cfg_.data.Resolve(e.manifest), cfg_.data, cfg_.model.beam_width,
                  run.run_dir + "/eval/" + e.name, e.name);
    }
  }

 private:
  std::shared_ptr<const AudioDataset> train_, dev_;
  CtcModel model_{nullptr};
  std::unique_ptr<CtcObjective> objective_;
};

}  // namespace

std::unique_ptr<Task> MakeAsrTask(AsrExperimentConfig cfg) { return std::make_unique<AsrTask>(std::move(cfg)); }

TrainSummary TrainAsrExperiment(AsrExperimentConfig cfg, const TrainRunOptions& options) {
  AsrTask task(std::move(cfg));
  return TrainRun(task, options);
}

}  // namespace fas

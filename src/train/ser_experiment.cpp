#include "fas/train/ser_experiment.h"

#include <spdlog/spdlog.h>

#include <filesystem>
#include <optional>

#include "fas/audio/audio.h"
#include "fas/audio/features.h"
#include "fas/config/binder.h"
#include "fas/core/error.h"
#include "fas/core/log.h"
#include "fas/core/runtime.h"
#include "fas/eval/results.h"
#include "fas/io/safetensors.h"
#include "fas/io/state_dict.h"
#include "fas/train/checkpoint_folder.h"
#include "fas/train/distributed.h"
#include "fas/train/feature_cache.h"
#include "fas/train/ser_dataset.h"

namespace fs = std::filesystem;

namespace fas {
namespace {

LabelSet LoadLabels(const DataConfig& d) { return d.labels.empty() ? CanonicalLabels() : LoadLabelSet(d.labels); }

std::optional<LabelMap> LoadMap(const std::string& spec) {
  if (spec.empty()) return std::nullopt;
  return LoadLabelMap(fs::exists(spec) ? spec : LabelMapPath(spec));
}

bool ReadsText(const ModelConfig& m) { return FusionHeadStreams(m.head).semantic && m.semantic.type == "text"; }

// `labelled`: every utterance must carry the label the run learns (training and dev); evaluation manifests may
// hold unlabelled utterances, which are predicted and not scored.
SerDatasetOptions SerOptions(const ExperimentConfig& cfg, const std::optional<LabelMap>& map, bool labelled = false) {
  SerDatasetOptions o;
  o.require_label = labelled;
  o.text_field = ReadsText(cfg.model) ? cfg.model.semantic.text_field : "";
  o.require_text = ReadsText(cfg.model);
  o.skip_bad = cfg.data.loader.skip_bad;
  o.label_field = cfg.data.label_field;
  o.label_map = map ? &*map : nullptr;
  return o;
}

// Whether batches must be decoded from audio: a pathway the model reads whose features are not cached.
bool NeedsAudio(SerModel& model, const FeatureCache* cache) {
  const bool cached_a = cache != nullptr && cache->acoustic();
  const bool cached_s = cache != nullptr && cache->semantic();
  return (model->uses_acoustic() && !cached_a) ||
         (model->uses_semantic() && model->config().semantic.type != "text" && !cached_s);
}

// The rest of a batch: cached features where the cache has them, token ids for a text pathway. The waveform (when
// needed) is already in `in`, decoded by the DataLoader.
void CompleteInput(SerModel& model, const FeatureCache* cache, const SerDataset& data,
                   const std::vector<int64_t>& batch, SerInput& in) {
  if (cache != nullptr && cache->enabled()) cache->Load(data, batch, in);
  if (model->uses_semantic() && model->config().semantic.type == "text" && !in.semantic_features.defined()) {
    std::vector<std::string> texts;
    for (int64_t i : batch) texts.push_back(data.text(i));
    const TokenBatch t = model->Tokenize(texts);
    in.input_ids = t.input_ids;
    in.attention_mask = t.attention_mask;
  }
}

// The batches of one pass over a dataset: decoded by a DataLoader when audio is needed, otherwise planned alone
// (the same plan) and assembled from the cache, so a cached epoch decodes no audio at all.
class BatchStream {
 public:
  // rank / world_size: this rank's shard of every epoch (data/loader.h's sharding).
  BatchStream(const SerDataset& data, const LoaderConfig& loader, bool train, uint64_t seed, bool needs_audio,
              int rank = 0, int world_size = 1)
      : data_(data), loader_cfg_(loader), train_(train), seed_(seed), rank_(rank), world_size_(world_size) {
    if (needs_audio) loader_ = std::make_unique<DataLoader>(data.audio(), loader, train, seed, rank, world_size);
  }
  int64_t NumBatches(int64_t epoch) const {
    return static_cast<int64_t>(data_.Batches(loader_cfg_, train_, seed_, epoch, rank_, world_size_).size());
  }
  void Start(int64_t epoch, int64_t first) {
    plan_ = data_.Batches(loader_cfg_, train_, seed_, epoch, rank_, world_size_);
    next_ = first;
    if (loader_) {
      loader_->StartEpoch(epoch);
      for (int64_t k = 0; k < first; ++k) loader_->Next();  // decoded and dropped: consumed before the resume
    }
  }
  // Utterances the DataLoader left out for unusable audio (skip_bad), each listed once.
  std::vector<SkippedLine> skipped() const { return loader_ ? loader_->skipped() : std::vector<SkippedLine>{}; }
  // The next batch's items, with the waveform filled in when decoding; false at the end of the pass.
  bool Next(std::vector<int64_t>& items, SerInput& in) {
    if (loader_) {
      std::optional<Batch> b = loader_->Next();
      if (!b) return false;
      items = b->items;
      in.waveform = b->waveform;
      in.lengths = b->lengths;
    } else {
      if (next_ >= static_cast<int64_t>(plan_.size())) return false;
      items = plan_[static_cast<size_t>(next_)];
    }
    ++next_;
    return true;
  }

 private:
  const SerDataset& data_;
  LoaderConfig loader_cfg_;
  bool train_;
  uint64_t seed_;
  int rank_, world_size_;
  std::unique_ptr<DataLoader> loader_;
  std::vector<std::vector<int64_t>> plan_;
  int64_t next_ = 0;
};

torch::Tensor BatchLabels(const SerDataset& data, const std::vector<int64_t>& batch) {
  std::vector<int64_t> y;
  for (int64_t i : batch) y.push_back(data.label(i));
  return torch::tensor(y, torch::kInt64);
}

// Predictions over a whole dataset in manifest order (model in eval mode, no gradient); `loss` gets the mean
// cross-entropy over the labelled utterances. Data-parallel: each rank predicts its shard of the batches and the
// probabilities are summed across ranks, so every rank returns the predictions for the whole dataset. An
// utterance the loader skipped (skip_bad: unusable audio) has no prediction: it is left out, counted in
// `skipped_audio` and listed (this rank's) in `skipped`.
std::vector<Prediction> PredictDataset(SerModel& model, const FeatureCache* cache, const SerDataset& data,
                                       const LoaderConfig& loader, double* loss = nullptr,
                                       DataParallel* parallel = nullptr, int64_t* skipped_audio = nullptr,
                                       std::vector<SkippedLine>* skipped = nullptr) {
  torch::NoGradGuard no_grad;
  const bool was_training = model->is_training();
  model->eval();
  const auto& names = model->labels();
  const int64_t n = data.size(), classes = static_cast<int64_t>(names.size());
  torch::Tensor probs = torch::zeros({n, classes}, torch::kFloat64);
  // Per utterance: acoustic attention share, and 1 where the head reports one. Last row: loss sum, labelled.
  torch::Tensor share = torch::zeros({n + 1, 2}, torch::kFloat64);
  torch::Tensor predicted = torch::zeros({n}, torch::kFloat64);  // 1 once the utterance has its probabilities
  BatchStream stream(data, loader, false, 0, NeedsAudio(model, cache), parallel ? parallel->rank() : 0,
                     parallel ? parallel->world_size() : 1);
  stream.Start(0, 0);
  std::vector<int64_t> batch;
  SerInput in;
  while (stream.Next(batch, in)) {
    CompleteInput(model, cache, data, batch, in);
    const SerOutput o = model->Forward(in);
    in = SerInput();
    const torch::Tensor index = torch::tensor(batch, torch::kInt64);
    probs.index_copy_(0, index, torch::softmax(o.logits.to(torch::kFloat64), 1));
    predicted.index_fill_(0, index, 1.0);
    if (o.acoustic_share.defined()) {
      share.index_copy_(0, index, torch::stack({o.acoustic_share.to(torch::kFloat64),
                                                torch::ones({index.size(0)}, torch::kFloat64)}, 1));
    }
    const torch::Tensor y = BatchLabels(data, batch);
    const torch::Tensor known = y.ge(0);
    if (known.any().item<bool>()) {
      const auto idx = known.nonzero().squeeze(1);
      share[n][0] += torch::nn::functional::cross_entropy(
          o.logits.index_select(0, idx), y.index_select(0, idx),
          torch::nn::functional::CrossEntropyFuncOptions().reduction(torch::kSum)).item<double>();
      share[n][1] += static_cast<double>(idx.size(0));
    }
  }
  if (parallel != nullptr) {
    parallel->AllReduceSum(probs);
    parallel->AllReduceSum(share);
    parallel->AllReduceSum(predicted);
  }
  if (skipped != nullptr) *skipped = stream.skipped();
  std::vector<Prediction> out;
  out.reserve(static_cast<size_t>(n));
  const auto p_all = probs.accessor<double, 2>();
  const auto s_all = share.accessor<double, 2>();
  const auto done = predicted.accessor<double, 1>();
  int64_t left_out = 0;
  for (int64_t i = 0; i < n; ++i) {
    if (done[i] == 0) {
      ++left_out;
      continue;
    }
    const Utterance& u = data.utterance(i);
    Prediction p;
    p.id = u.id;
    p.label = data.label(i) >= 0 ? names[static_cast<size_t>(data.label(i))] : "";
    p.probs.assign(&p_all[i][0], &p_all[i][0] + classes);
    p.pred = names[static_cast<size_t>(std::max_element(p.probs.begin(), p.probs.end()) - p.probs.begin())];
    // The words' emotion mapped as the label is (a corpus label map), so that the two compare.
    const int64_t text_label = data.audio()->text_label(i);
    p.text_label = text_label >= 0 ? names[static_cast<size_t>(text_label)] : "";
    p.conflict = u.conflict;
    if (s_all[i][1] > 0) p.acoustic_share = s_all[i][0];
    out.push_back(std::move(p));
  }
  model->train(was_training);
  if (skipped_audio != nullptr) *skipped_audio = left_out;
  if (loss != nullptr) *loss = s_all[n][1] > 0 ? s_all[n][0] / s_all[n][1] : std::nan("");
  return out;
}

class SerObjective : public TrainObjective {
 public:
  SerObjective(const ExperimentConfig& cfg, SerModel model, const SerDataset& train, const SerDataset& dev,
               const FeatureCache* cache, DataParallel* parallel)
      : cfg_(cfg), model_(std::move(model)), train_(train), dev_(dev), cache_(cache), parallel_(parallel),
        stream_(train, cfg.data.loader, true, cfg.seed, NeedsAudio(model_, cache), parallel ? parallel->rank() : 0,
                parallel ? parallel->world_size() : 1) {
    if (cfg_.train.class_weighted) {
      // Inverse class frequency over the classes present (scikit-learn's "balanced"); absent classes weigh 0.
      const auto counts = train_.ClassCounts(static_cast<int>(model_->labels().size()));
      int64_t present = 0;
      for (int64_t c : counts) present += c > 0 ? 1 : 0;
      std::vector<float> w;
      for (int64_t c : counts) {
        w.push_back(c > 0 ? static_cast<float>(train_.size()) / static_cast<float>(present * c) : 0.0f);
      }
      class_weights_ = torch::tensor(w);
    }
  }

  torch::nn::Module& model() override { return *model_; }
  std::vector<ParamGroup> ParameterGroups(const TrainConfig& c) override {
    const fas::ParameterGroups g = model_->Groups();
    return {{"encoder", g.encoder, c.encoder_lr}, {"head", g.head, c.lr}};
  }
  int64_t BatchesInEpoch(int64_t epoch) override { return stream_.NumBatches(epoch); }
  void StartEpoch(int64_t epoch, int64_t first) override { stream_.Start(epoch, first); }
  std::optional<BatchLoss> NextBatch() override {
    std::vector<int64_t> batch;
    SerInput in;
    if (!stream_.Next(batch, in)) return std::nullopt;
    CompleteInput(model_, cache_, train_, batch, in);
    const SerOutput o = model_->Forward(in);
    auto opts = torch::nn::functional::CrossEntropyFuncOptions().label_smoothing(cfg_.train.label_smoothing);
    if (class_weights_.defined()) opts.weight(class_weights_);
    return BatchLoss{torch::nn::functional::cross_entropy(o.logits, BatchLabels(train_, batch), opts),
                     static_cast<int64_t>(batch.size())};
  }
  void AfterStep(int64_t step) override { model_->OnTrainStep(step); }
  std::map<std::string, double> EvaluateDev() override {
    double loss = 0;
    const auto preds = PredictDataset(model_, cache_, dev_, cfg_.data.loader, &loss, parallel_);
    const EvalMetrics m = Evaluate(preds, model_->labels());
    std::map<std::string, double> out = {{"loss", loss},
                                         {"acc", m.all.acc},
                                         {"ua", m.all.ua},
                                         {"macro_f1", m.all.macro_f1},
                                         {"weighted_f1", m.all.weighted_f1}};
    if (m.conflict.n > 0) out["conflict_acc"] = m.conflict.acc;
    return out;
  }
  void SaveWeights(const std::string& path) override { SaveStateDict(*model_, path); }
  void LoadWeights(const std::string& path) override { LoadStateDict(*model_, path, NameMap{}); }

 private:
  const ExperimentConfig& cfg_;
  SerModel model_;
  const SerDataset& train_;
  const SerDataset& dev_;
  const FeatureCache* cache_;
  DataParallel* parallel_;
  BatchStream stream_;
  torch::Tensor class_weights_;
};

// A resumed run must be the same run: the config given must resolve to the one the run was started with, except
// for the plan and the final evaluations.
void CheckSameConfig(const ExperimentConfig& given, const ExperimentConfig& stored, const std::string& run_dir) {
  ExperimentConfig expected = stored;
  ExperimentConfig g = given;
  if (g.model.semantic.tokenizer.model.empty()) g.model.semantic.tokenizer = stored.model.semantic.tokenizer;
  expected.train.TakePlanFrom(g.train);
  expected.eval = g.eval;
  CheckSameRunConfig(ConfigToString(g), ConfigToString(expected), run_dir);
}

SerModel LoadRunModel(const ExperimentConfig& cfg, const std::string& run_dir, const LabelSet& labels) {
  SeedEverything(cfg.seed);
  SerModel model = BuildModel(cfg.model, labels);
  const std::string ckpt = CheckpointForEval(run_dir);
  LoadStateDict(*model, ckpt + "/model.safetensors", NameMap{});
  spdlog::info("loaded {}", ckpt);
  model->eval();
  return model;
}

EvalMetrics EvaluateInto(SerModel& model, FeatureCache* cache, const ExperimentConfig& cfg,
                         const std::string& run_dir, const std::string& manifest, const std::string& name,
                         const std::optional<LabelMap>& map, const LabelSet& labels,
                         DataParallel* parallel = nullptr) {
  SerDataset data(manifest, labels, SerOptions(cfg, map));
  if (cache != nullptr && cache->enabled()) cache->Fill(data);
  int64_t skipped_audio = 0;
  std::vector<SkippedLine> skipped = data.audio()->skipped();
  std::vector<SkippedLine> skipped_here;
  const auto preds =
      PredictDataset(model, cache, data, cfg.data.loader, nullptr, parallel, &skipped_audio, &skipped_here);
  if (parallel != nullptr && parallel->rank() != 0) return Evaluate(preds, model->labels());
  skipped.insert(skipped.end(), skipped_here.begin(), skipped_here.end());
  ResultsInfo info;
  info.model = cfg.model.head;
  info.dataset = name;
  info.manifest = manifest;
  info.run = run_dir;
  info.seed = cfg.seed;
  info.label_map = LabelMapJson(data.label_report());
  info.trainable_parameters = model->NumTrainableParameters();
  info.skipped = static_cast<int64_t>(data.audio()->skipped().size()) + skipped_audio;
  const std::string dir = run_dir + "/eval/" + name;
  const EvalMetrics m = WriteEvaluation(dir, preds, model->labels(), info);
  if (!skipped.empty()) WriteSkipList(dir + "/skipped.jsonl", skipped);
  if (info.skipped > 0) {
    spdlog::warn("eval {}: {} utterance(s) skipped, not scored (listed in {}/skipped.jsonl)", name, info.skipped,
                 dir);
  }
  if (m.unlabelled > 0) {
    spdlog::warn("eval {}: {} of {} predicted utterance(s) have no label: predicted, not scored{}", name, m.unlabelled,
                 preds.size(), m.all.n == 0 ? " (predictions.jsonl only, no results.json)" : "");
  }
  spdlog::info("eval {}: n {} acc {:.4f} ua {:.4f} macro_f1 {:.4f}{}", name, m.all.n, m.all.acc, m.all.ua,
               m.all.macro_f1,
               m.conflict.n > 0 ? fmt::format(" | conflict acc {:.4f} (n {})", m.conflict.acc, m.conflict.n) : "");
  return m;
}

}  // namespace

ExperimentConfig LoadRunConfig(const std::string& run_dir) {
  const std::string path = run_dir + "/config.yaml";
  if (!fs::exists(path)) throw IoError("'" + run_dir + "' is not a run directory (no config.yaml)");
  return LoadExperimentConfig({path}, {}, true);
}

TrainSummary TrainExperiment(ExperimentConfig cfg, const TrainRunOptions& options) {
  const std::string run_dir = options.run_dir.empty() ? "runs/" + cfg.name : options.run_dir;
  // Data-parallel when the environment says so (torchrun / SLURM convention, or `fas train --nproc N`). The
  // group forms first, so that a missing peer fails the run before any file is written.
  const DistributedEnv env = DistributedEnv::FromEnvironment();
  std::unique_ptr<DataParallel> parallel;
  if (env.enabled()) {
    spdlog::info("data-parallel rank {} of {} (local rank {}), rendezvous at {}:{}", env.rank, env.world_size,
                 env.local_rank, env.master_addr, env.master_port);
    parallel = std::make_unique<DataParallel>(
        env, std::chrono::milliseconds(static_cast<int64_t>(cfg.train.distributed_timeout * 1000.0)));
    // One log: the other ranks say only what goes wrong.
    if (env.rank != 0) spdlog::set_level(spdlog::level::warn);
  }
  const bool writer = env.rank == 0;
  const bool existing_run = !FindCheckpoint(run_dir + "/checkpoints/last").empty();
  if (parallel) parallel->Barrier();  // every rank has looked at the run directory before rank 0 writes to it
  if (options.resume) {
    const ExperimentConfig stored = LoadRunConfig(run_dir);
    CheckSameConfig(cfg, stored, run_dir);
    cfg.model.semantic.tokenizer = stored.model.semantic.tokenizer;
    if (writer) WriteFileAtomic(run_dir + "/config.yaml", ConfigToString(cfg));
  } else if (existing_run) {
    throw ConfigError("run directory '" + run_dir + "' already holds a run; continue it with --resume, or choose "
                      "another with --run-dir");
  }
  if (writer) {
    fs::create_directories(run_dir);
    LogToFile(run_dir + "/train.log");
  }
  if (cfg.train.threads > 0) InitRuntime({cfg.train.threads});
  SeedEverything(cfg.seed);

  const LabelSet labels = LoadLabels(cfg.data);
  const std::optional<LabelMap> map = LoadMap(cfg.data.label_map);
  const SerDataset train(cfg.data.Resolve(cfg.data.train), labels, SerOptions(cfg, map, true));
  const SerDataset dev(cfg.data.Resolve(cfg.data.dev), labels, SerOptions(cfg, map, true));
  spdlog::info("run '{}' ({}): {} training / {} dev utterances, seed {}", cfg.name, run_dir, train.size(), dev.size(),
               cfg.seed);
  if (!options.resume && writer) {
    if (ReadsText(cfg.model) && cfg.model.semantic.tokenizer.model.empty()) {
      std::vector<std::string> texts;
      for (int64_t i = 0; i < train.size(); ++i) texts.push_back(train.text(i));
      PrepareTokenizer(cfg.model, texts, run_dir);
    }
    WriteFileAtomic(run_dir + "/config.yaml", ConfigToString(cfg));
  }
  if (parallel) {
    // The tokenizer rank 0 trained (the run directory is shared by all ranks, as with torchrun).
    parallel->Barrier();
    if (!writer && !options.resume) cfg.model.semantic.tokenizer = LoadRunConfig(run_dir).model.semantic.tokenizer;
  }

  SerModel model = BuildModel(cfg.model, labels);
  for (const auto& [part, n] : model->ParameterReport()) spdlog::info("trainable parameters, {}: {}", part, n);

  std::unique_ptr<FeatureCache> cache;
  if (cfg.train.cache_features) {
    cache = std::make_unique<FeatureCache>(cfg.data.ResolvedCacheDir(), model, cfg.data.loader);
    if (cache->enabled()) {
      for (const SerDataset* d : {&train, &dev}) {
        const CacheFillStats s = cache->Fill(*d);
        spdlog::info("feature cache {}: {} computed, {} reused, {:.1f} s", d->manifest_path(), s.computed, s.reused,
                     s.seconds);
      }
    }
  }

  TrainConfig tc = cfg.train;
  const int ranks = env.world_size;
  if (tc.global_batch > 0) {
    const int per_step = cfg.data.loader.batch_size * ranks;
    if (per_step <= 0 || tc.global_batch % per_step != 0) {
      throw ConfigError("train.global_batch " + std::to_string(tc.global_batch) + " is not a multiple of " +
                        "data.batch_size " + std::to_string(cfg.data.loader.batch_size) + " x " +
                        std::to_string(ranks) + " ranks (batching by count)");
    }
    tc.accumulation = tc.global_batch / per_step;
  }
  if (cfg.data.loader.batch_size > 0) {
    spdlog::info("global batch {} = {} a rank x {} rank(s) x {} accumulation step(s)",
                 cfg.data.loader.batch_size * ranks * tc.accumulation, cfg.data.loader.batch_size, ranks,
                 tc.accumulation);
  } else {
    spdlog::info("global batch: up to {} s of audio a rank x {} rank(s) x {} accumulation step(s)",
                 cfg.data.loader.max_batch_seconds, ranks, tc.accumulation);
  }
  SerObjective objective(cfg, model, train, dev, cache.get(), parallel.get());
  TrainerOptions to;
  to.run_dir = run_dir;
  to.seed = cfg.seed;
  to.resolved_config = ConfigToString(cfg);
  to.on_step = options.on_step;
  to.parallel = parallel.get();
  Trainer trainer(tc, objective, to);
  TrainSummary summary = trainer.Run(options.resume);
  if (summary.interrupted) {
    throw Interrupted("training stopped at step " + std::to_string(summary.steps) + "; checkpoints/last saved; "
                      "continue with: fas train --run-dir " + run_dir + " --resume");
  }
  if (parallel) parallel->Barrier();  // rank 0 has written the last checkpoints
  LoadStateDict(*model, CheckpointForEval(run_dir) + "/model.safetensors", NameMap{});
  for (const auto& e : cfg.eval) {
    EvaluateInto(model, cache.get(), cfg, run_dir, cfg.data.Resolve(e.manifest), e.name, map, labels,
                 parallel.get());
  }
  return summary;
}

EvalMetrics EvaluateRun(const std::string& run_dir, const std::string& manifest, const std::string& name,
                        const std::string& label_map, bool skip_bad) {
  ExperimentConfig cfg = LoadRunConfig(run_dir);
  if (skip_bad) cfg.data.loader.skip_bad = true;
  const LabelSet labels = LoadLabels(cfg.data);
  SerModel model = LoadRunModel(cfg, run_dir, labels);
  return EvaluateInto(model, nullptr, cfg, run_dir, manifest, name, LoadMap(label_map), labels);
}

std::vector<nlohmann::ordered_json> PredictFiles(const std::string& run_dir, const std::vector<std::string>& files,
                                                 const std::vector<std::string>& texts, const TranscriberConfig& asr) {
  const ExperimentConfig cfg = LoadRunConfig(run_dir);
  const LabelSet labels = LoadLabels(cfg.data);
  SerModel model = LoadRunModel(cfg, run_dir, labels);
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
  torch::NoGradGuard no_grad;
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
    const torch::Tensor probs = torch::softmax(o.logits.to(torch::kFloat64), 1)[0];
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

int64_t ExtractFeatures(const ExperimentConfig& cfg) {
  SeedEverything(cfg.seed);
  const LabelSet labels = LoadLabels(cfg.data);
  const std::optional<LabelMap> map = LoadMap(cfg.data.label_map);
  if (ReadsText(cfg.model) && cfg.model.semantic.tokenizer.model.empty()) {
    throw ConfigError("fas extract: model.semantic.tokenizer.model is empty; a frozen text encoder needs the "
                      "tokenizer it was trained with");
  }
  SerModel model = BuildModel(cfg.model, labels);
  FeatureCache cache(cfg.data.ResolvedCacheDir(), model, cfg.data.loader);
  if (!cache.enabled()) {
    throw ConfigError("fas extract: no pathway of this model is frozen, so there is nothing to cache");
  }
  std::vector<std::string> manifests = {cfg.data.train, cfg.data.dev};
  for (const auto& e : cfg.eval) manifests.push_back(e.manifest);
  int64_t computed = 0;
  for (const auto& m : manifests) {
    const SerDataset data(cfg.data.Resolve(m), labels, SerOptions(cfg, map));
    const CacheFillStats s = cache.Fill(data);
    spdlog::info("{}: {} computed, {} reused, {:.1f} s", data.manifest_path(), s.computed, s.reused, s.seconds);
    computed += s.computed;
  }
  return computed;
}

}  // namespace fas

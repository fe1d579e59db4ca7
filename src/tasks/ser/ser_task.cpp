#include "fas/tasks/ser/ser_task.h"

#include <spdlog/spdlog.h>

#include <map>
#include <memory>
#include <numeric>
#include <optional>
#include <type_traits>

#include "fas/config/binder.h"
#include "fas/core/device.h"
#include "fas/core/error.h"
#include "fas/core/runtime.h"
#include "fas/engine/task.h"
#include "fas/tasks/ser/counterfactual.h"
#include "fas/io/state_dict.h"
#include "fas/engine/distributed.h"
#include "ser_predict.h"

namespace fas {
namespace {

class SerObjective : public TrainObjective {
 public:
  // `train_cache`: the features training batches read (null: every pathway encodes its audio); `dev_cache`: those
  // the dev evaluation reads.
  SerObjective(const ExperimentConfig& cfg, SerModel model, const SerDataset& train, const SerDataset& dev,
               const FeatureCache* train_cache, const FeatureCache* dev_cache, DataParallel* parallel)
      : cfg_(cfg), model_(std::move(model)), train_(train), dev_(dev), train_cache_(train_cache),
        dev_cache_(dev_cache), parallel_(parallel),
        stream_(train, cfg.data.loader, true, cfg.seed, NeedsAudio(model_, train_cache), train_cache,
                parallel ? parallel->rank() : 0, parallel ? parallel->world_size() : 1) {
    if (cfg_.train.class_weighted) {
      // Inverse class frequency over the classes present (scikit-learn's "balanced"); absent classes weigh 0.
      const auto counts = train_.ClassCounts(static_cast<int>(model_->labels().size()));
      int64_t present = 0;
      for (int64_t c : counts) present += c > 0 ? 1 : 0;
      std::vector<float> w;
      for (int64_t c : counts) {
        w.push_back(c > 0 ? static_cast<float>(train_.size()) / static_cast<float>(present * c) : 0.0f);
      }
      class_weights_ = torch::tensor(w).to(model_->device());
    }
    const bool text = model_->config().semantic.type == "text";
    for (const auto& [on, cache] : {std::pair{cfg_.train.counterfactual.prob > 0, train_cache_},
                                    std::pair{cfg_.train.counterfactual.dev, dev_cache_}}) {
      if (on && !text && !(cache != nullptr && cache->semantic())) {
        throw ConfigError("train.counterfactual takes another utterance's semantic stream: a Whisper pathway must "
                          "be frozen and cached for it (freeze it, train.cache_features: true)");
      }
    }
    if (cfg_.train.counterfactual.prob > 0) {
      pairing_.emplace(PairingOver(train_));
      spdlog::info("counterfactual pairing: probability {}, {} of {} training utterances lend their words",
                   cfg_.train.counterfactual.prob, pairing_->lenders(), train_.size());
    }
    if (cfg_.train.counterfactual.dev) {
      // The counterfactual dev set: every dev utterance heard with the words of another dev utterance whose
      // emotion differs from its label, once for the whole run (the zero-shot sets are never used to choose).
      std::vector<int64_t> all(static_cast<size_t>(dev_.size()));
      std::iota(all.begin(), all.end(), 0);
      torch::manual_seed(DeriveSeed(cfg_.seed, "counterfactual dev"));
      dev_sources_ = PairingOver(dev_).Partners(all, 1.0);
    }
  }

  // Counterfactual pairing over a dataset's utterances: their labels and their words' emotions.
  CounterfactualPairing PairingOver(const SerDataset& data) const {
    std::vector<int64_t> labels;
    for (int64_t i = 0; i < data.size(); ++i) labels.push_back(data.label(i));
    LabelSet classes;
    classes.names = model_->labels();
    return CounterfactualPairing(std::move(labels),
                                 WordEmotions(data, classes, cfg_.train.counterfactual.text_model, cfg_.data.loader),
                                 static_cast<int64_t>(model_->labels().size()));
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
    CompleteInput(model_, train_cache_, train_, batch, in);
    if (pairing_) {
      const std::vector<int64_t> partners = pairing_->Partners(batch, cfg_.train.counterfactual.prob);
      if (partners != batch) TakeSemanticFrom(model_, train_cache_, train_, partners, in);
    }
    const ModalityDropoutConfig& md = cfg_.train.modality_dropout;
    if (md.enabled()) {
      std::tie(in.keep_acoustic, in.keep_semantic) =
          DrawModalityDropout(static_cast<int64_t>(batch.size()), md.acoustic, md.semantic);
    }
    const SerOutput o = model_->Forward(in);
    auto opts = torch::nn::functional::CrossEntropyFuncOptions().label_smoothing(cfg_.train.label_smoothing);
    if (class_weights_.defined()) opts.weight(class_weights_);
    return BatchLoss{torch::nn::functional::cross_entropy(o.logits, ToDevice(BatchLabels(train_, batch), o.logits.device()), opts),
                     static_cast<int64_t>(batch.size())};
  }
  void AfterStep(int64_t step) override { model_->OnTrainStep(step); }
  std::map<std::string, double> EvaluateDev() override {
    double loss = 0;
    const auto preds = PredictDataset(model_, dev_cache_, dev_, cfg_.data.loader, &loss, parallel_);
    const EvalMetrics m = Evaluate(preds, model_->labels());
    std::map<std::string, double> out = {{"loss", loss},
                                         {"acc", m.all.acc},
                                         {"ua", m.all.ua},
                                         {"macro_f1", m.all.macro_f1},
                                         {"weighted_f1", m.all.weighted_f1}};
    if (m.conflict.n > 0) out["conflict_acc"] = m.conflict.acc;
    if (!dev_sources_.empty()) {
      const auto paired = PredictDataset(model_, dev_cache_, dev_, cfg_.data.loader, nullptr, parallel_, nullptr,
                                         nullptr, &dev_sources_);
      const EvalMetrics c = Evaluate(paired, model_->labels());
      out["cf_acc"] = c.all.acc;
      out["cf_ua"] = c.all.ua;
      out["cf_macro_f1"] = c.all.macro_f1;
    }
    return out;
  }
  void SaveWeights(const std::string& path) override { SaveStateDict(*model_, path); }
  void LoadWeights(const std::string& path) override { LoadStateDict(*model_, path, NameMap{}); }

 private:
  const ExperimentConfig& cfg_;
  SerModel model_;
  const SerDataset& train_;
  const SerDataset& dev_;
  const FeatureCache* train_cache_;
  const FeatureCache* dev_cache_;
  DataParallel* parallel_;
  BatchStream stream_;
  torch::Tensor class_weights_;
  std::optional<CounterfactualPairing> pairing_;
  std::vector<int64_t> dev_sources_;  // the counterfactual dev set (empty: none)
};

// A resumed run must be the same run: the config given must resolve to the one the run was started with, except
// for the plan and the final evaluations.
void CheckSameConfig(const ExperimentConfig& given, const ExperimentConfig& stored, const std::string& run_dir) {
  const auto [g, s] = ComparableRunConfigs(given, stored, /*plan_may_change=*/true);
  CheckSameRunConfig(g, s, run_dir);
}

// Whether training audio differs from the whole utterance (random crops, augmentation), epoch by epoch.
bool TransformsTrainingAudio(const LoaderConfig& loader) {
  return loader.max_train_seconds > 0 || loader.augment.enabled;
}

// Every numeric key of a config section (through its Visit), for run.json.
struct NumericFields {
  std::map<std::string, double> values;
  template <class T, class... Doc>
  void operator()(const std::string& key, T& value, const Doc&...) {
    if constexpr (std::is_arithmetic_v<T> && !std::is_same_v<T, bool>) values[key] = static_cast<double>(value);
  }
};

class SerTask : public ConfiguredTask<ExperimentConfig> {
 public:
  using ConfiguredTask::ConfiguredTask;

  std::string kind() const override { return "ser"; }
  bool supports_data_parallel() const override { return true; }

  void AdoptRun(const std::string& stored_yaml, const std::string& run_dir) override {
    const ExperimentConfig stored = LoadExperimentConfig({stored_yaml}, {}, true);
    CheckSameConfig(cfg_, stored, run_dir);
    cfg_.model.semantic.tokenizer = stored.model.semantic.tokenizer;
  }

  void Prepare(const RunContext& run) override {
    labels_ = LoadLabels(cfg_.data);
    map_ = LoadMap(cfg_.data.label_map);
    train_ = std::make_unique<SerDataset>(cfg_.data.Resolve(cfg_.data.train), labels_, SerOptions(cfg_, map_, true));
    dev_ = std::make_unique<SerDataset>(cfg_.data.Resolve(cfg_.data.dev), labels_, SerOptions(cfg_, map_, true));
    spdlog::info("run '{}' ({}): {} training / {} dev utterances, seed {}", cfg_.name, run.run_dir, train_->size(),
                 dev_->size(), cfg_.seed);
    if (!run.resume && run.writer && ReadsText(cfg_.model) && cfg_.model.semantic.tokenizer.model.empty()) {
      std::vector<std::string> texts;
      for (int64_t i = 0; i < train_->size(); ++i) texts.push_back(train_->text(i));
      PrepareTokenizer(cfg_.model, texts, run.run_dir);
    }
  }

  // The tokenizer rank 0 trained (the run folder is shared by all ranks, as with torchrun).
  void AdoptArtefacts(const RunContext& run) override {
    cfg_.model.semantic.tokenizer = LoadRunConfig(run.run_dir).model.semantic.tokenizer;
  }

  RunInfo Describe() const override {
    RunInfo info;
    info.task = kind();
    info.name = cfg_.name;
    info.seed = cfg_.seed;
    info.head = cfg_.model.head;
    const HeadStreams streams = FusionHeadStreams(cfg_.model.head);
    info.acoustic = streams.acoustic ? cfg_.model.acoustic.encoder.type : "";
    info.semantic = streams.semantic ? cfg_.model.semantic.type : "";
    NumericFields numbers;
    FusionConfig fusion = cfg_.model.fusion;  // Visit binds fields, so it takes a mutable config
    fusion.Visit(numbers);
    info.fusion = numbers.values;
    info.labels = labels_.names;
    return info;
  }

  TrainObjective& Objective(const RunContext& run) override {
    model_ = BuildModel(cfg_.model, labels_);
    model_->to(ComputeDevice());
    for (const auto& [part, n] : model_->ParameterReport()) spdlog::info("trainable parameters, {}: {}", part, n);
    if (cfg_.train.cache_features) {
      cache_ = std::make_unique<FeatureCache>(cfg_.data.ResolvedCacheDir(), model_, cfg_.data.loader,
                                              cfg_.data.StoreOptions());
      if (!cache_->enabled()) cache_.reset();
    }
    // A cache holds whole, unaugmented utterances: training reads an audio pathway's features from it only when
    // the loader would hand that pathway exactly those (no crops, no augmentation), so that a cached run trains on
    // what an uncached one does and both pathways hear the same audio. A text pathway's transcript is never cropped.
    if (cache_) {
      if (!TransformsTrainingAudio(cfg_.data.loader)) {
        train_cache_ = std::make_unique<FeatureCache>(*cache_);
      } else if (FeatureCache text = cache_->TextOnly(); text.enabled()) {
        train_cache_ = std::make_unique<FeatureCache>(std::move(text));
      }
      if (!train_cache_ || train_cache_->acoustic() != cache_->acoustic()) {
        spdlog::info("feature cache: frozen audio encoders are read from the cache for evaluation only; training "
                     "encodes each batch, because data.max_train_seconds / data.augment change its audio");
      }
      std::vector<const SerDataset*> sets = {dev_.get()};
      if (train_cache_) sets.insert(sets.begin(), train_.get());
      for (const SerDataset* d : sets) {
        const CacheFillStats s = cache_->Fill(*d);
        spdlog::info("feature cache {}: {} computed, {} reused, {:.1f} s", d->manifest_path(), s.computed, s.reused,
                     s.seconds);
      }
    }
    objective_ = std::make_unique<SerObjective>(cfg_, model_, *train_, *dev_, train_cache_.get(), cache_.get(),
                                                run.parallel);
    return *objective_;
  }

  void EvaluateFinal(const RunContext& run) override {
    for (const auto& e : cfg_.eval) {
      EvaluateInto(model_, cache_.get(), cfg_, run.run_dir, cfg_.data.Resolve(e.manifest), e.name, map_, labels_,
                   run.parallel);
    }
  }

 private:
  LabelSet labels_;
  std::optional<LabelMap> map_;
  std::unique_ptr<SerDataset> train_, dev_;
  SerModel model_{nullptr};
  std::unique_ptr<FeatureCache> cache_;        // frozen pathways: dev and final evaluations read it
  std::unique_ptr<FeatureCache> train_cache_;  // the part of it training batches read (null: none)
  std::unique_ptr<SerObjective> objective_;
};

}  // namespace

std::unique_ptr<Task> MakeSerTask(ExperimentConfig cfg) { return std::make_unique<SerTask>(std::move(cfg)); }

TrainSummary TrainExperiment(ExperimentConfig cfg, const TrainRunOptions& options) {
  SerTask task(std::move(cfg));
  return TrainRun(task, options);
}

}  // namespace fas

#include "ser_predict.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <cmath>
#include <filesystem>

#include "fas/engine/checkpoint_folder.h"
#include "fas/eval/results.h"
#include "fas/engine/distributed.h"

namespace fs = std::filesystem;

namespace fas {

LabelSet LoadLabels(const DataConfig& d) { return d.labels.empty() ? CanonicalLabels() : LoadLabelSet(d.labels); }

std::optional<LabelMap> LoadMap(const std::string& spec) {
  if (spec.empty() || spec == "none") return std::nullopt;
  return LoadLabelMap(fs::exists(spec) ? spec : LabelMapPath(spec));
}

bool ReadsText(const ModelConfig& m) { return FusionHeadStreams(m.head).semantic && m.semantic.type == "text"; }

SerDatasetOptions SerOptions(const ExperimentConfig& cfg, const std::optional<LabelMap>& map, bool labelled) {
  SerDatasetOptions o;
  o.require_label = labelled;
  o.text_field = ReadsText(cfg.model) ? cfg.model.semantic.text_field : "";
  o.require_text = ReadsText(cfg.model);
  o.skip_bad = cfg.data.loader.skip_bad;
  o.label_field = cfg.data.label_field;
  o.label_map = map ? &*map : nullptr;
  return o;
}

bool NeedsAudio(SerModel& model, const FeatureCache* cache) {
  const bool cached_a = cache != nullptr && cache->acoustic();
  const bool cached_s = cache != nullptr && cache->semantic();
  return (model->uses_acoustic() && !cached_a) ||
         (model->uses_semantic() && model->config().semantic.type != "text" && !cached_s);
}

void CompleteInput(SerModel& model, const FeatureCache* cache, const SerDataset& data,
                   const std::vector<int64_t>& batch, SerInput& in) {
  // What BatchStream read ahead is already there.
  if (cache != nullptr && cache->enabled()) {
    cache->Load(data, batch, in, !in.acoustic_features.defined(), !in.semantic_features.defined());
  }
  if (model->uses_semantic() && model->config().semantic.type == "text" && !in.semantic_features.defined()) {
    std::vector<std::string> texts;
    for (int64_t i : batch) texts.push_back(data.text(i));
    const TokenBatch t = model->Tokenize(texts);
    in.input_ids = t.input_ids;
    in.attention_mask = t.attention_mask;
  }
}

BatchStream::BatchStream(const SerDataset& data, const LoaderConfig& loader, bool train, uint64_t seed,
                         bool needs_audio, const FeatureCache* cache, int rank, int world_size)
    : data_(data), loader_cfg_(loader), train_(train), seed_(seed), rank_(rank), world_size_(world_size) {
  if (needs_audio) {
    loader_ = std::make_unique<DataLoader>(data.audio(), loader, train, seed, rank, world_size);
    return;
  }
  if (cache != nullptr && cache->enabled()) cache_ = cache;
  if (cache != nullptr && loader.skip_bad) {
    // Once a pass, not once a batch: an utterance whose audio could not be cached stays out of every batch.
    cached_.resize(static_cast<size_t>(data.size()));
    for (int64_t i = 0; i < data.size(); ++i) cached_[static_cast<size_t>(i)] = cache->Has(data, i);
  }
}

int64_t BatchStream::NumBatches(int64_t epoch) const {
  return static_cast<int64_t>(data_.Batches(loader_cfg_, train_, seed_, epoch, rank_, world_size_).size());
}

void BatchStream::Start(int64_t epoch, int64_t first) {
  if (ahead_.valid()) ahead_.wait();  // a read of the last pass still in flight is dropped
  ahead_ = {};
  plan_ = data_.Batches(loader_cfg_, train_, seed_, epoch, rank_, world_size_);
  next_ = first;
  if (loader_) {
    loader_->StartEpoch(epoch);
    for (int64_t k = 0; k < first; ++k) loader_->Next();  // decoded and dropped: consumed before the resume
  }
}

std::vector<SkippedLine> BatchStream::skipped() const {
  return loader_ ? loader_->skipped() : std::vector<SkippedLine>{};
}

std::optional<std::vector<int64_t>> BatchStream::NextItems() {
  while (next_ < static_cast<int64_t>(plan_.size())) {
    std::vector<int64_t> items;
    for (int64_t i : plan_[static_cast<size_t>(next_++)]) {
      if (cached_.empty() || cached_[static_cast<size_t>(i)]) items.push_back(i);
    }
    if (!items.empty()) return items;
  }
  return std::nullopt;
}

void BatchStream::ReadAhead() {
  std::optional<std::vector<int64_t>> items = NextItems();
  if (!items) return;
  ahead_ = std::async(std::launch::async, [this, items = std::move(*items)] {
    Read r{items, {}};
    cache_->Load(data_, r.items, r.in);
    return r;
  });
}

bool BatchStream::Next(std::vector<int64_t>& items, SerInput& in) {
  if (loader_) {
    std::optional<Batch> b = loader_->Next();
    if (!b) return false;
    items = b->items;
    in.waveform = b->waveform;
    in.lengths = b->lengths;
    return true;
  }
  if (cache_ == nullptr) {
    std::optional<std::vector<int64_t>> next = NextItems();
    if (!next) return false;
    items = std::move(*next);
    return true;
  }
  if (!ahead_.valid()) ReadAhead();
  if (!ahead_.valid()) return false;
  Read r = ahead_.get();  // a corrupt shard's error surfaces here, on the caller's thread
  items = std::move(r.items);
  in = std::move(r.in);
  ReadAhead();
  return true;
}

void TakeSemanticFrom(SerModel& model, const FeatureCache* cache, const SerDataset& data,
                      const std::vector<int64_t>& sources, SerInput& in) {
  if (cache != nullptr && cache->semantic()) {
    cache->Load(data, sources, in, /*load_acoustic=*/false, /*load_semantic=*/true);
    return;
  }
  std::vector<std::string> texts;
  for (int64_t j : sources) texts.push_back(data.text(j));
  const TokenBatch t = model->Tokenize(texts);
  in.input_ids = t.input_ids;
  in.attention_mask = t.attention_mask;
}

torch::Tensor BatchLabels(const SerDataset& data, const std::vector<int64_t>& batch) {
  std::vector<int64_t> y;
  for (int64_t i : batch) y.push_back(data.label(i));
  return torch::tensor(y, torch::kInt64);
}

std::vector<Prediction> PredictDataset(SerModel& model, const FeatureCache* cache, const SerDataset& data,
                                       const LoaderConfig& loader, double* loss, DataParallel* parallel,
                                       int64_t* skipped_audio, std::vector<SkippedLine>* skipped,
                                       const std::vector<int64_t>* semantic_sources) {
  // InferenceMode rather than no-grad alone: the encoders' CPU speed routes run only under it.
  c10::InferenceMode inference;
  const bool was_training = model->is_training();
  model->eval();
  const auto& names = model->labels();
  const int64_t n = data.size(), classes = static_cast<int64_t>(names.size());
  torch::Tensor probs = torch::zeros({n, classes}, torch::kFloat64);
  // Per utterance: acoustic attention share, and 1 where the head reports one. Last row: loss sum, labelled.
  torch::Tensor share = torch::zeros({n + 1, 2}, torch::kFloat64);
  torch::Tensor predicted = torch::zeros({n}, torch::kFloat64);  // 1 once the utterance has its probabilities
  BatchStream stream(data, loader, false, 0, NeedsAudio(model, cache), cache, parallel ? parallel->rank() : 0,
                     parallel ? parallel->world_size() : 1);
  stream.Start(0, 0);
  std::vector<int64_t> batch;
  SerInput in;
  while (stream.Next(batch, in)) {
    CompleteInput(model, cache, data, batch, in);
    if (semantic_sources != nullptr) {
      std::vector<int64_t> sources;
      for (int64_t i : batch) sources.push_back((*semantic_sources)[static_cast<size_t>(i)]);
      if (sources != batch) TakeSemanticFrom(model, cache, data, sources, in);
    }
    SerOutput o = model->Forward(in);
    in = SerInput();
    // Scores are gathered on the CPU: one copy a batch.
    o.logits = o.logits.to(torch::kCPU, torch::kFloat32);
    if (o.acoustic_share.defined()) o.acoustic_share = o.acoustic_share.to(torch::kCPU, torch::kFloat32);
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

EvalMetrics EvaluateInto(SerModel& model, FeatureCache* cache, const ExperimentConfig& cfg,
                         const std::string& run_dir, const std::string& manifest, const std::string& name,
                         const std::optional<LabelMap>& map, const LabelSet& labels, DataParallel* parallel) {
  SerDataset data(manifest, labels, SerOptions(cfg, map));
  std::vector<SkippedLine> skipped = data.audio()->skipped();
  if (cache != nullptr && cache->enabled()) {
    const CacheFillStats filled = cache->Fill(data);
    skipped.insert(skipped.end(), filled.skipped.begin(), filled.skipped.end());
  }
  int64_t skipped_audio = 0;
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
  info.checkpoint = fs::path(CheckpointForEval(run_dir)).filename().string();
  info.selected_by = info.checkpoint.rfind("best", 0) == 0 ? "best dev " + cfg.train.best_metric : "last step";
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

}  // namespace fas

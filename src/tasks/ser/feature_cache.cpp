#include "fas/tasks/ser/feature_cache.h"

#include <spdlog/spdlog.h>
#include <sys/stat.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <future>
#include <nlohmann/json.hpp>
#include <set>

#include "fas/asr/transcriber.h"
#include "fas/config/binder.h"
#include "fas/core/device.h"
#include "fas/core/error.h"
#include "fas/core/progress.h"
#include "fas/io/safetensors.h"

namespace fs = std::filesystem;

namespace fas {
namespace {

// Bumped when what a store holds changes meaning: an older store is then another key, never misread.
constexpr int kStoreFormat = 2;

// The weights of one encoder: every parameter and buffer under `prefix`, bytes and shapes.
std::string WeightsHash(const torch::nn::Module& model, const std::string& prefix) {
  std::string digest;
  auto add = [&](const std::string& name, const torch::Tensor& t) {
    if (name.rfind(prefix, 0) != 0) return;
    const torch::Tensor c = t.detach().contiguous().cpu();
    const std::string bytes(static_cast<const char*>(c.data_ptr()), static_cast<size_t>(c.nbytes()));
    digest += name + c10::str(c.sizes()) + ContentHash(bytes);
  };
  for (const auto& p : model.named_parameters()) add(p.key(), p.value());
  for (const auto& b : model.named_buffers()) add(b.key(), b.value());
  return ContentHash(digest);
}

std::string FileStamp(const std::string& path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) throw IoError("cannot stat '" + path + "'");
  return path + "|" + std::to_string(st.st_size) + "|" + std::to_string(st.st_mtim.tv_sec) + "." +
         std::to_string(st.st_mtim.tv_nsec);
}

// Whole utterances of one extraction batch, decoded (or left out with why).
struct DecodedBatch {
  std::vector<int64_t> items;  // those decoded, in batch order
  std::vector<std::vector<float>> waves;
  std::vector<SkippedLine> skipped;
};

// Decodes a batch on `workers` threads (each a strided share); a bad utterance is skipped when `skip_bad`, else
// its DataError propagates.
DecodedBatch Decode(const SerDataset& data, const std::vector<int64_t>& batch, const LoaderConfig& loader,
                    int workers) {
  const size_t n = batch.size();
  std::vector<std::vector<float>> waves(n);
  std::vector<std::string> errors(n);
  auto work = [&](size_t first) {
    for (size_t k = first; k < n; k += static_cast<size_t>(workers)) {
      try {
        waves[k] = data.LoadUtterance(batch[k], loader);
      } catch (const DataError& e) {
        if (!loader.skip_bad) throw;
        errors[k] = e.what();
      }
    }
  };
  std::vector<std::future<void>> running;
  for (int w = 1; w < workers; ++w) running.push_back(std::async(std::launch::async, work, static_cast<size_t>(w)));
  work(0);
  for (auto& r : running) r.get();
  DecodedBatch out;
  for (size_t k = 0; k < n; ++k) {
    if (!errors[k].empty()) {
      const Utterance& u = data.utterance(batch[k]);
      out.skipped.push_back(SkippedLine{u.line, u.id, errors[k], data.manifest_path()});
      spdlog::warn("skipped {}", errors[k]);
      continue;
    }
    out.items.push_back(batch[k]);
    out.waves.push_back(std::move(waves[k]));
  }
  return out;
}

// Length-sorted batches whose padded length (count x longest) stays within `seconds`.
std::vector<std::vector<int64_t>> LengthBuckets(const SerDataset& data, std::vector<int64_t> items, double seconds) {
  const auto& dur = data.audio()->durations();
  std::stable_sort(items.begin(), items.end(),
                   [&](int64_t a, int64_t b) { return dur[static_cast<size_t>(a)] > dur[static_cast<size_t>(b)]; });
  std::vector<std::vector<int64_t>> batches;
  for (int64_t i : items) {
    // Longest first: the batch's first utterance is its longest.
    if (batches.empty() ||
        static_cast<double>(batches.back().size() + 1) * dur[static_cast<size_t>(batches.back().front())] > seconds) {
      batches.emplace_back();
    }
    batches.back().push_back(i);
  }
  return batches;
}

}  // namespace

std::string DefaultFeatureCacheDir() {
  if (const char* d = std::getenv("FAS_CACHE_DIR"); d != nullptr && *d) return std::string(d) + "/features";
  if (const char* d = std::getenv("XDG_CACHE_HOME"); d != nullptr && *d) return std::string(d) + "/fas/features";
  const char* home = std::getenv("HOME");
  return std::string(home != nullptr ? home : ".") + "/.cache/fas/features";
}

torch::ScalarType StoreDType(const std::string& dtype, const std::string& key) {
  if (dtype == "float32") return torch::kFloat32;
  if (dtype == "bfloat16") return torch::kBFloat16;
  if (dtype == "float16") return torch::kFloat16;
  throw ConfigError(key + ": '" + dtype + "' is not a stored dtype; use float32, bfloat16 or float16");
}

FeatureCache::FeatureCache(std::string dir, SerModel model, const LoaderConfig& loader, FeatureStoreOptions options)
    : dir_(std::move(dir)), model_(std::move(model)), loader_(loader), options_(std::move(options)) {
  StoreDType(options_.dtype);
  precision_ = ResolvePrecision(options_.precision, model_->device(), "data.extract_precision");
  ModelConfig cfg = model_->config();
  const bool pooled = model_->head().reads_patches();
  acoustic_.on = model_->uses_acoustic() && model_->acoustic_frozen();
  semantic_.on = model_->uses_semantic() && model_->semantic_frozen();
  auto describe = [&](Pathway& p, const std::string& name, const std::string& encoder, const std::vector<int>& layers,
                      int64_t patch, const std::string& weights) {
    p.patch = pooled ? std::max<int64_t>(patch, 1) : 1;
    std::string layer_list;
    for (int l : layers) layer_list += (layer_list.empty() ? "" : ",") + std::to_string(l);
    nlohmann::ordered_json j = {{"format", kStoreFormat},
                                {"pathway", name},
                                {"layers", "[" + layer_list + "]"},
                                {"patch", p.patch},
                                {"dtype", options_.dtype},
                                {"sample_rate", loader_.sample_rate},
                                {"normalize", loader_.normalize},
                                {"libtorch", TORCH_VERSION},
                                {"device", model_->device().is_cuda() ? "cuda" : "cpu"},
                                {"weights", weights},
                                {"encoder", encoder}};
    // Float32 extraction keeps the key stores written before precision was a setting have.
    if (precision_ != Precision::kFloat32) j["precision"] = PrecisionName(precision_);
    p.description = j.dump();
    p.key = ContentHash(p.description);
    OpenStore(p);
  };
  if (acoustic_.on) {
    describe(acoustic_, "acoustic", ConfigToString(cfg.acoustic), cfg.acoustic.layers, cfg.fusion.patch_aco,
             WeightsHash(*model_, "acoustic_encoder."));
  }
  if (semantic_.on) {
    const std::string& tok = cfg.semantic.tokenizer.model;
    tokenizer_key_ = cfg.semantic.type == "text" && !tok.empty() ? FileStamp(tok) : "";
    describe(semantic_, "semantic", ConfigToString(cfg.semantic), cfg.semantic.layers, cfg.fusion.patch_sem,
             WeightsHash(*model_, "semantic_encoder."));
  }
}

void FeatureCache::OpenStore(Pathway& p) const {
  const std::string dir = dir_ + "/" + p.key.substr(0, 16);
  p.store = std::make_shared<ShardStore>(dir, "fas extract --config <this run's config> --rebuild-shard {shard}");
  if (!fs::exists(dir + "/store.json")) WriteFileAtomic(dir + "/store.json", p.description + "\n");
}

FeatureCache FeatureCache::TextOnly() const {
  FeatureCache text = *this;
  text.acoustic_.on = false;
  text.semantic_.on = semantic_.on && model_->config().semantic.type == "text";
  return text;
}

std::string FeatureCache::StoreDir(bool semantic) const {
  const Pathway& p = pathway(semantic);
  return p.on ? p.store->dir() : "";
}

void FeatureCache::DropShard(const std::string& shard_path) {
  const std::string folder = fs::weakly_canonical(fs::path(shard_path).parent_path()).string();
  for (Pathway* p : {&acoustic_, &semantic_}) {
    if (!p->on || fs::weakly_canonical(p->store->dir()).string() != folder) continue;
    ShardStoreLock lock(p->store->dir());
    p->store->DropShard(shard_path);
    spdlog::info("feature store {}: dropped {}; its entries are computed again", p->store->dir(), shard_path);
    return;
  }
  throw IoError("'" + shard_path + "' is not a shard of this config's feature stores (" + StoreDir(false) +
                (semantic_.on ? " " + StoreDir(true) : "") + ")");
}

std::string FeatureCache::UtteranceKey(const SerDataset& data, int64_t i, bool semantic) const {
  const Utterance& u = data.utterance(i);
  const bool text = semantic && model_->config().semantic.type == "text";
  // The words alone decide a text encoder's output.
  const std::string key =
      text ? "text|" + data.text(i) + "|" + tokenizer_key_
           : FileStamp(u.audio_path) + "|" + std::to_string(u.offset) + "|" + std::to_string(u.duration);
  return ContentHash(pathway(semantic).key + "|" + key);
}

bool FeatureCache::Has(const SerDataset& data, int64_t i) const {
  for (bool semantic : {false, true}) {
    const Pathway& p = pathway(semantic);
    if (p.on && !p.store->Has(UtteranceKey(data, i, semantic))) return false;
  }
  return true;
}

CacheFillStats FeatureCache::Fill(const SerDataset& data) {
  CacheFillStats stats;
  if (!enabled()) return stats;
  const auto start = std::chrono::steady_clock::now();
  auto missing = [&] {
    std::vector<int64_t> out;
    for (int64_t i = 0; i < data.size(); ++i) {
      if (!Has(data, i)) out.push_back(i);
    }
    return out;
  };
  std::vector<int64_t> todo = missing();
  std::vector<std::unique_ptr<ShardStoreLock>> locks;
  if (!todo.empty()) {
    // Acoustic before semantic: two extractions take the locks in one order, so neither waits on the other.
    for (Pathway* p : {&acoustic_, &semantic_}) {
      if (!p->on) continue;
      locks.push_back(std::make_unique<ShardStoreLock>(p->store->dir()));
      p->store->RemoveUnfinished();
    }
    todo = missing();
  }
  for (bool semantic : {false, true}) {
    const Pathway& p = pathway(semantic);
    if (!p.on) continue;
    int64_t have = 0;
    for (int64_t i = 0; i < data.size(); ++i) have += p.store->Has(UtteranceKey(data, i, semantic)) ? 1 : 0;
    stats.reused += have;
    spdlog::info("feature store {} ({} layers {}, patch {}, {}): {} of {} entries of {} reused", p.store->dir(),
                 semantic ? "semantic" : "acoustic",
                 nlohmann::json::parse(p.description).at("layers").get<std::string>(), p.patch, options_.dtype, have,
                 data.size(), fs::path(data.manifest_path()).filename().string());
  }
  if (!todo.empty()) Extract(data, todo, stats);
  stats.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return stats;
}

void FeatureCache::Extract(const SerDataset& data, const std::vector<int64_t>& items, CacheFillStats& stats) {
  // InferenceMode rather than no-grad alone: the encoders' CPU speed routes run only under it.
  c10::InferenceMode inference;
  const bool was_training = model_->is_training();
  model_->eval();
  const bool text = model_->config().semantic.type == "text";
  const bool needs_audio = acoustic_.on || (semantic_.on && !text);
  const torch::ScalarType dtype = StoreDType(options_.dtype);
  const double batch_seconds = options_.batch_seconds > 0      ? options_.batch_seconds
                               : loader_.max_batch_seconds > 0 ? loader_.max_batch_seconds
                                                               : 60.0;
  // Two manifest lines of the same audio (or the same words) are one entry: stored once.
  std::set<std::string> queued[2];
  std::vector<int64_t> unique;
  for (int64_t i : items) {
    bool fresh = false;
    for (bool semantic : {false, true}) {
      const Pathway& p = pathway(semantic);
      if (!p.on) continue;
      const std::string key = UtteranceKey(data, i, semantic);
      fresh = (!p.store->Has(key) && queued[semantic].insert(key).second) || fresh;
    }
    if (fresh) unique.push_back(i);
  }
  const std::vector<std::vector<int64_t>> batches = LengthBuckets(data, unique, batch_seconds);
  double total = 0;
  for (int64_t i : unique) total += data.audio()->seconds(i);
  Progress progress("features " + fs::path(data.manifest_path()).filename().string(), static_cast<int64_t>(total + 0.5),
                    "audio-s");
  const int workers = std::max(1, loader_.num_workers);
  auto decode = [&](size_t b) {
    if (!needs_audio) return DecodedBatch{batches[b], {}, {}};
    return Decode(data, batches[b], loader_, workers);
  };
  struct Pending {
    NamedTensors entries;
    std::vector<std::string> ids;
    int64_t bytes = 0;
  } pending[2];
  auto flush = [&](bool semantic) {
    Pending& p = pending[semantic];
    pathway(semantic).store->AppendShard(p.entries, p.ids);
    p = Pending{};
  };
  std::set<std::string> written[2];
  std::future<DecodedBatch> next;
  if (!batches.empty()) next = std::async(std::launch::async, decode, 0);
  for (size_t b = 0; b < batches.size(); ++b) {
    DecodedBatch batch;
    try {
      batch = next.get();
    } catch (const DataError& e) {
      throw DataError(std::string(e.what()) + " (--skip-bad leaves such utterances out and lists them)");
    }
    // The next batch decodes while this one encodes.
    if (b + 1 < batches.size()) next = std::async(std::launch::async, decode, b + 1);
    stats.skipped.insert(stats.skipped.end(), batch.skipped.begin(), batch.skipped.end());
    if (batch.items.empty()) continue;
    SerInput in;
    if (needs_audio) std::tie(in.waveform, in.lengths) = PadWaveforms(batch.waves);
    if (semantic_.on && text) {
      std::vector<std::string> texts;
      for (int64_t i : batch.items) texts.push_back(data.text(i));
      const TokenBatch t = model_->Tokenize(texts);
      in.input_ids = t.input_ids;
      in.attention_mask = t.attention_mask;
    }
    double seconds = 0;
    for (int64_t i : batch.items) seconds += data.audio()->seconds(i);
    for (bool semantic : {false, true}) {
      const Pathway& p = pathway(semantic);
      if (!p.on) continue;
      StreamFeatures f;
      {
        const Autocast autocast(model_->device(), precision_);
        f = semantic ? model_->EncodeSemantic(in) : model_->EncodeAcoustic(in);
      }
      const torch::Tensor valid_frames = f.mask.sum(1).to(torch::kCPU);
      for (size_t k = 0; k < batch.items.size(); ++k) {
        const int64_t i = batch.items[k];
        const std::string key = UtteranceKey(data, i, semantic);
        if (p.store->Has(key) || !written[semantic].insert(key).second) continue;  // a repeat of an utterance
        const int64_t valid = valid_frames[static_cast<int64_t>(k)].item<int64_t>();
        torch::Tensor x = f.states[static_cast<int64_t>(k)].narrow(1, 0, valid);  // [S, T, D]
        if (p.patch > 1) {
          x = Patchify(x, torch::ones({x.size(0), valid}, torch::dtype(torch::kBool).device(x.device())), p.patch).first;
        }
        x = x.to(torch::kCPU, dtype).contiguous().clone();
        Pending& out = pending[semantic];
        out.bytes += static_cast<int64_t>(x.nbytes());
        out.entries.emplace_back(key, std::move(x));
        out.ids.push_back(data.utterance(i).id);
        ++stats.computed;
        if (out.bytes >= options_.shard_bytes) flush(semantic);
      }
    }
    // Whole seconds of the running total, so that the count ends at the total however batches round.
    const int64_t before = static_cast<int64_t>(stats.audio_seconds + 0.5);
    stats.audio_seconds += seconds;
    const double minutes = progress.ElapsedSeconds() / 60.0;
    progress.Advance(static_cast<int64_t>(stats.audio_seconds + 0.5) - before,
                     minutes > 0 ? fmt::format("{:.3g} h audio/min", stats.audio_seconds / 3600.0 / minutes) : "");
  }
  for (bool semantic : {false, true}) {
    if (pathway(semantic).on && !pending[semantic].entries.empty()) flush(semantic);
  }
  progress.Finish();
  model_->train(was_training);
}

void FeatureCache::Load(const SerDataset& data, const std::vector<int64_t>& batch, SerInput& input, bool load_acoustic,
                        bool load_semantic) const {
  for (bool semantic : {false, true}) {
    const Pathway& p = pathway(semantic);
    if (!p.on || !(semantic ? load_semantic : load_acoustic)) continue;
    std::vector<torch::Tensor> states;  // views of the mapped shards
    int64_t longest = 0;
    for (int64_t i : batch) {
      const std::string key = UtteranceKey(data, i, semantic);
      if (!p.store->Has(key)) {
        throw IoError("feature store entry for '" + data.utterance(i).id + "' is missing (store " + p.store->dir() +
                      "); run `fas extract` with this config");
      }
      states.push_back(p.store->Get(key));
      longest = std::max(longest, states.back().size(1));
    }
    const int64_t b = static_cast<int64_t>(batch.size());
    torch::Tensor out = torch::zeros({b, states[0].size(0), longest, states[0].size(2)});
    torch::Tensor mask = torch::zeros({b, longest}, torch::kBool);
    for (int64_t k = 0; k < b; ++k) {
      const int64_t t = states[static_cast<size_t>(k)].size(1);
      out[k].narrow(1, 0, t).copy_(states[static_cast<size_t>(k)]);  // the one copy, converting to float32
      mask[k].narrow(0, 0, t).fill_(true);
    }
    (semantic ? input.semantic_features : input.acoustic_features) = out;
    (semantic ? input.semantic_mask : input.acoustic_mask) = mask;
    (semantic ? input.semantic_patched : input.acoustic_patched) = p.patch > 1;
  }
}

}  // namespace fas

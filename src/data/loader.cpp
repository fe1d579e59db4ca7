#include "fas/data/loader.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <cstring>
#include <numeric>
#include <random>

#include "fas/audio/audio.h"
#include "fas/audio/features.h"
#include "fas/core/error.h"

namespace fas {
namespace {

// Separate streams for the epoch plan and for each utterance's crop and augmentation draws.
constexpr uint64_t kPlanStream = 0x706c616e;
constexpr uint64_t kUtteranceStream = 0x75747472;

uint64_t SplitMix(uint64_t x) {
  x += 0x9e3779b97f4a7c15ull;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
  return x ^ (x >> 31);
}
uint64_t Mix(uint64_t seed, uint64_t stream, uint64_t a, uint64_t b = 0) {
  return SplitMix(SplitMix(SplitMix(seed ^ SplitMix(stream)) ^ a) ^ b);
}

// Draws below are written out rather than taken from <random>'s distributions, whose algorithms the standard
// leaves to the library: a plan must be the same on every platform a run may resume on.
uint64_t Below(std::mt19937_64& rng, uint64_t n) {
  return static_cast<uint64_t>((static_cast<unsigned __int128>(rng()) * n) >> 64);
}
double Uniform01(std::mt19937_64& rng) { return static_cast<double>(rng() >> 11) * 0x1.0p-53; }

template <class T>
void Shuffle(std::vector<T>& v, std::mt19937_64& rng) {
  for (size_t i = v.size(); i > 1; --i) std::swap(v[i - 1], v[Below(rng, i)]);
}

std::string Where(const Utterance& u, const std::string& manifest) {
  return "utterance '" + u.id + "' (" + manifest + ":" + std::to_string(u.line) + ")";
}

}  // namespace

// ---------------------------------------------------------------- config

void LoaderConfig::Validate() const {
  if (batch_size < 0) throw ConfigError("loader.batch_size must be >= 0");
  if (max_batch_seconds < 0) throw ConfigError("loader.max_batch_seconds must be >= 0");
  if (batch_size == 0 && max_batch_seconds <= 0) {
    throw ConfigError("loader.batch_size is 0 (no count limit) but loader.max_batch_seconds is not set");
  }
  if (bucket_window < 1) throw ConfigError("loader.bucket_window must be >= 1");
  if (max_train_seconds < 0) throw ConfigError("loader.max_train_seconds must be >= 0");
  if (num_workers < 0 || num_workers > 256) throw ConfigError("loader.num_workers must be in [0, 256]");
  if (prefetch < 1) throw ConfigError("loader.prefetch must be >= 1");
  if (sample_rate < 1000 || sample_rate > 384000) throw ConfigError("loader.sample_rate must be in [1000, 384000]");
  ParseNormalization(normalize);
  if (text_field != "asr_text" && text_field != "text" && !text_field.empty()) {
    throw ConfigError("loader.text_field must be asr_text, text or empty (got '" + text_field + "')");
  }
  augment.Validate();
}

// ---------------------------------------------------------------- dataset

AudioDataset::AudioDataset(Manifest manifest, const DatasetOptions& options)
    : manifest_path_(manifest.path), label_set_(options.labels), skipped_(manifest.skipped) {
  const bool skip_bad = options.manifest.skip_bad;
  const size_t n = manifest.utterances.size();

  // Durations first (in parallel: probing opens each file), so every later error can be reported in line order.
  std::vector<double> seconds(n, 0.0);
  std::vector<std::string> errors(n);
  std::vector<size_t> to_probe;
  for (size_t i = 0; i < n; ++i) {
    if (manifest.utterances[i].duration > 0) {
      seconds[i] = manifest.utterances[i].duration;
    } else {
      to_probe.push_back(i);
    }
  }
  if (!to_probe.empty()) {
    int threads = options.probe_threads > 0 ? options.probe_threads
                                            : static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
    threads = static_cast<int>(std::min<size_t>(static_cast<size_t>(threads), to_probe.size()));
    std::atomic<size_t> next{0};
    auto probe = [&] {
      for (size_t k = next++; k < to_probe.size(); k = next++) {
        const size_t i = to_probe[k];
        const Utterance& u = manifest.utterances[i];
        try {
          const AudioInfo info = ProbeAudio(u.audio_path);
          seconds[i] = info.duration - u.offset;
          if (info.frames <= 0) {
            errors[i] = "zero-length audio in " + u.audio_path;
          } else if (seconds[i] <= 0) {
            errors[i] = "offset " + std::to_string(u.offset) + " s is past the end of " + u.audio_path;
          }
        } catch (const Error& e) {
          errors[i] = e.what();
        }
      }
    };
    std::vector<std::thread> pool;
    for (int t = 1; t < threads; ++t) pool.emplace_back(probe);
    probe();
    for (auto& t : pool) t.join();
  }

  auto resolve = [&](const std::string& original, bool& dropped) -> int64_t {
    dropped = false;
    if (original.empty()) return -1;
    const std::string mapped = options.label_map != nullptr ? options.label_map->Apply(original, label_set_) : original;
    if (mapped.empty()) {
      dropped = true;
      return -1;
    }
    const int index = label_set_.Index(mapped);
    if (index < 0) {
      throw DataError("label '" + mapped + "' is not in the label set '" + label_set_.name +
                      "'; give a label map for this corpus");
    }
    return index;
  };

  for (size_t i = 0; i < n; ++i) {
    Utterance& u = manifest.utterances[i];
    try {
      if (!errors[i].empty()) throw DataError(errors[i]);
      bool dropped = false;
      const int64_t label = resolve(u.label, dropped);
      if (dropped) {
        report_.Record(u.label, "");
        continue;
      }
      bool text_dropped = false;
      const int64_t text_label = resolve(u.text_label, text_dropped);
      if (!u.label.empty()) report_.Record(u.label, label_set_.names[static_cast<size_t>(label)]);
      int64_t conflict = -1;
      if (u.conflict.has_value()) {
        conflict = *u.conflict ? 1 : 0;
      } else if (label >= 0 && text_label >= 0) {
        conflict = label != text_label ? 1 : 0;
      }
      labels_.push_back(label);
      text_labels_.push_back(text_label);
      conflicts_.push_back(conflict);
      seconds_.push_back(seconds[i]);
      utterances_.push_back(std::move(u));
    } catch (const Error& e) {
      if (!skip_bad) {
        throw DataError(manifest_path_ + ":" + std::to_string(u.line) + ": '" + u.id + "': " + e.what() +
                        " (--skip-bad skips such lines and lists them)");
      }
      skipped_.push_back(SkippedLine{u.line, u.id, e.what(), manifest_path_});
    }
  }
  if (skipped_.size() > manifest.skipped.size()) {
    spdlog::warn("{}: left out {} utterance(s) whose audio or label is unusable; first: line {}: {}", manifest_path_,
                 skipped_.size() - manifest.skipped.size(), skipped_[manifest.skipped.size()].line,
                 skipped_[manifest.skipped.size()].reason);
  }
  if (!report_.dropped.empty()) spdlog::info("{}: labels: {}", manifest_path_, report_.Summary());
  if (utterances_.empty() && !options.manifest.allow_empty) {
    throw DataError(manifest_path_ + ": no usable utterances (" + report_.Summary() + ", " +
                    std::to_string(skipped_.size()) + " skipped)");
  }
}

AudioDataset AudioDataset::Load(const std::string& manifest_path, const DatasetOptions& options) {
  return AudioDataset(ReadManifest(manifest_path, options.manifest), options);
}

double AudioDataset::total_seconds() const { return std::accumulate(seconds_.begin(), seconds_.end(), 0.0); }

// ---------------------------------------------------------------- plan

BatchPlan PlanBatches(const std::vector<double>& seconds, const std::vector<int64_t>& labels,
                      const LoaderConfig& config, bool train, uint64_t seed, int64_t epoch, int rank,
                      int world_size) {
  config.Validate();
  if (world_size < 1 || rank < 0 || rank >= world_size) {
    throw ConfigError("data sharding: rank " + std::to_string(rank) + " is outside world size " +
                      std::to_string(world_size));
  }
  const int64_t n = static_cast<int64_t>(seconds.size());
  std::vector<double> eff = seconds;
  if (train && config.max_train_seconds > 0) {
    for (auto& s : eff) s = std::min(s, config.max_train_seconds);
  }
  std::mt19937_64 rng(Mix(seed, kPlanStream, static_cast<uint64_t>(epoch)));
  const bool shuffled = train && (config.shuffle || config.class_balanced);

  std::vector<int64_t> order;
  order.reserve(static_cast<size_t>(n));
  if (train && config.class_balanced && n > 0) {
    // Every class (unlabelled utterances form one of their own) is drawn equally often, then a member uniformly.
    std::map<int64_t, std::vector<int64_t>> members;
    for (int64_t i = 0; i < n; ++i) members[labels.empty() ? -1 : labels[static_cast<size_t>(i)]].push_back(i);
    std::vector<const std::vector<int64_t>*> classes;
    for (const auto& [label, m] : members) classes.push_back(&m);
    for (int64_t k = 0; k < n; ++k) {
      const auto& m = *classes[Below(rng, classes.size())];
      order.push_back(m[Below(rng, m.size())]);
    }
  } else {
    for (int64_t i = 0; i < n; ++i) order.push_back(i);
    if (shuffled) Shuffle(order, rng);
  }

  if (config.bucketing && n > 0) {
    auto by_length = [&](int64_t a, int64_t b) { return eff[static_cast<size_t>(a)] < eff[static_cast<size_t>(b)]; };
    if (!shuffled) {
      std::stable_sort(order.begin(), order.end(), by_length);
    } else {
      double mean = 0;
      for (double s : eff) mean += s;
      mean /= static_cast<double>(n);
      int64_t per_batch = config.batch_size;
      if (config.max_batch_seconds > 0) {
        const int64_t by_time = std::max<int64_t>(1, static_cast<int64_t>(config.max_batch_seconds / std::max(mean, 1e-3)));
        per_batch = per_batch > 0 ? std::min(per_batch, by_time) : by_time;
      }
      const int64_t window = std::max<int64_t>(1, per_batch * config.bucket_window);
      for (int64_t start = 0; start < n; start += window) {
        std::stable_sort(order.begin() + start, order.begin() + std::min(n, start + window), by_length);
      }
    }
  }

  BatchPlan plan;
  std::vector<int64_t> current;
  double longest = 0;
  for (int64_t i : order) {
    const double s = eff[static_cast<size_t>(i)];
    const double grown = std::max(longest, s);
    const bool full_count = config.batch_size > 0 && static_cast<int64_t>(current.size()) >= config.batch_size;
    const bool full_time = config.max_batch_seconds > 0 &&
                           static_cast<double>(current.size() + 1) * grown > config.max_batch_seconds;
    if (!current.empty() && (full_count || full_time)) {
      plan.batches.push_back(std::move(current));
      current.clear();
      longest = 0;
    }
    current.push_back(i);
    longest = std::max(longest, s);
  }
  if (!current.empty()) plan.batches.push_back(std::move(current));
  if (shuffled) Shuffle(plan.batches, rng);

  if (world_size > 1) {
    size_t usable = plan.batches.size();
    if (train) usable -= usable % static_cast<size_t>(world_size);
    std::vector<std::vector<int64_t>> mine;
    for (size_t b = static_cast<size_t>(rank); b < usable; b += static_cast<size_t>(world_size)) {
      mine.push_back(std::move(plan.batches[b]));
    }
    plan.batches = std::move(mine);
  }
  for (const auto& b : plan.batches) {
    double m = 0;
    for (int64_t i : b) {
      plan.audio_seconds += eff[static_cast<size_t>(i)];
      m = std::max(m, eff[static_cast<size_t>(i)]);
    }
    plan.padded_seconds += m * static_cast<double>(b.size());
  }
  plan.padding_ratio = plan.padded_seconds > 0 ? 1.0 - plan.audio_seconds / plan.padded_seconds : 0.0;
  return plan;
}

// ---------------------------------------------------------------- loader

DataLoader::DataLoader(std::shared_ptr<const AudioDataset> data, const LoaderConfig& config, bool train,
                       uint64_t seed, int rank, int world_size)
    : data_(std::move(data)), config_(config), train_(train), seed_(seed), rank_(rank), world_size_(world_size) {
  config_.Validate();
  if (world_size_ < 1 || rank_ < 0 || rank_ >= world_size_) {
    throw ConfigError("data sharding: rank " + std::to_string(rank_) + " is outside world size " +
                      std::to_string(world_size_));
  }
  normalization_ = static_cast<int>(ParseNormalization(config_.normalize));
  for (int i = 0; i < config_.num_workers; ++i) workers_.emplace_back([this] { WorkerLoop(); });
}

DataLoader::~DataLoader() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stop_ = true;
  }
  work_cv_.notify_all();
  ready_cv_.notify_all();
  for (auto& t : workers_) t.join();
}

void DataLoader::StartEpoch(int64_t epoch) {
  BatchPlan plan = PlanBatches(data_->durations(), data_->labels(), config_, train_, seed_, epoch, rank_, world_size_);
  {
    std::lock_guard<std::mutex> lock(mu_);
    plan_ = std::move(plan);
    epoch_ = epoch;
    ++generation_;
    next_claim_ = 0;
    consumed_ = 0;
    ready_.clear();
  }
  work_cv_.notify_all();
}

std::vector<float> DataLoader::Decode(int64_t item, int64_t epoch, bool train, std::string* error) const {
  const Utterance& u = data_->utterance(item);
  AudioReadOptions read;
  read.target_rate = config_.sample_rate;
  read.offset = u.offset;
  read.duration = u.duration;
  std::mt19937_64 rng(Mix(seed_, kUtteranceStream, static_cast<uint64_t>(epoch), static_cast<uint64_t>(item)));
  const double seconds = data_->seconds(item);
  const bool crop = train && config_.max_train_seconds > 0;
  if (crop && seconds > config_.max_train_seconds) {
    read.offset = u.offset + Uniform01(rng) * (seconds - config_.max_train_seconds);
    read.duration = config_.max_train_seconds;
  }
  try {
    std::vector<float> x = ReadAudio(u.audio_path, read);
    if (train) Augment(x, config_.sample_rate, config_.augment, rng);
    if (crop) {
      const auto cap = static_cast<size_t>(std::llround(config_.max_train_seconds * config_.sample_rate));
      if (x.size() > cap) x.resize(cap);
    }
    Normalize(x.data(), x.size(), static_cast<Normalization>(normalization_));
    return x;
  } catch (const Error& e) {
    *error = Where(u, data_->manifest_path()) + ": " + e.what();
    return {};
  }
}

void DataLoader::RecordSkip(int64_t item, const std::string& reason) {
  const Utterance& u = data_->utterance(item);
  std::lock_guard<std::mutex> lock(mu_);
  ++stats_.skipped;
  if (!skipped_ids_.insert(u.id).second) return;
  skipped_.push_back(SkippedLine{u.line, u.id, reason, data_->manifest_path()});
  spdlog::warn("skipped {}", reason);
}

DataLoader::Slot DataLoader::Build(int64_t epoch, int64_t index, const std::vector<int64_t>& items) {
  Slot slot;
  std::vector<std::vector<float>> waves;
  Batch b;
  b.epoch = epoch;
  b.index = index;
  for (int64_t item : items) {
    std::string error;
    std::vector<float> x = Decode(item, epoch, train_, &error);
    if (!error.empty()) {
      if (!config_.skip_bad) {
        slot.error = std::make_exception_ptr(DataError(error));
        return slot;
      }
      RecordSkip(item, error);
      continue;
    }
    b.items.push_back(item);
    waves.push_back(std::move(x));
  }
  const int64_t batch = static_cast<int64_t>(waves.size());
  int64_t longest = 0;
  for (const auto& w : waves) longest = std::max<int64_t>(longest, static_cast<int64_t>(w.size()));
  b.waveform = torch::empty({batch, longest}, torch::kFloat32);  // rows are filled below, padding zeroed there
  b.lengths = torch::empty({batch}, torch::kInt64);
  b.labels = torch::empty({batch}, torch::kInt64);
  b.text_labels = torch::empty({batch}, torch::kInt64);
  b.conflict = torch::empty({batch}, torch::kInt64);
  float* wave = b.waveform.data_ptr<float>();
  auto* lengths = b.lengths.data_ptr<int64_t>();
  auto* labels = b.labels.data_ptr<int64_t>();
  auto* text_labels = b.text_labels.data_ptr<int64_t>();
  auto* conflict = b.conflict.data_ptr<int64_t>();
  for (int64_t k = 0; k < batch; ++k) {
    const int64_t item = b.items[static_cast<size_t>(k)];
    const auto& w = waves[static_cast<size_t>(k)];
    float* row = wave + k * longest;
    if (!w.empty()) std::memcpy(row, w.data(), w.size() * sizeof(float));
    std::fill(row + w.size(), row + longest, 0.0f);
    lengths[k] = static_cast<int64_t>(w.size());
    labels[k] = data_->label(item);
    text_labels[k] = data_->text_label(item);
    conflict[k] = data_->conflict(item);
    const Utterance& u = data_->utterance(item);
    b.ids.push_back(u.id);
    b.texts.push_back(config_.text_field == "text" ? u.text : config_.text_field == "asr_text" ? u.asr_text : "");
  }
  b.attention_mask = torch::arange(longest, torch::kInt64).unsqueeze(0) < b.lengths.unsqueeze(1);
  slot.batch = std::move(b);
  return slot;
}

void DataLoader::WorkerLoop() {
  std::unique_lock<std::mutex> lock(mu_);
  while (true) {
    work_cv_.wait(lock, [&] {
      return stop_ || (next_claim_ < static_cast<int64_t>(plan_.batches.size()) &&
                       next_claim_ < consumed_ + config_.prefetch);
    });
    if (stop_) return;
    const int64_t index = next_claim_++;
    const uint64_t generation = generation_;
    const int64_t epoch = epoch_;
    const std::vector<int64_t> items = plan_.batches[static_cast<size_t>(index)];
    lock.unlock();
    Slot slot = Build(epoch, index, items);
    lock.lock();
    if (generation == generation_) {
      ready_[index] = std::move(slot);
      ready_cv_.notify_all();
    }
  }
}

std::optional<Batch> DataLoader::Next() {
  std::unique_lock<std::mutex> lock(mu_);
  if (epoch_ < 0) throw Error("data loader: StartEpoch must be called before Next");
  while (consumed_ < static_cast<int64_t>(plan_.batches.size())) {
    const int64_t index = consumed_;
    Slot slot;
    if (workers_.empty()) {
      const std::vector<int64_t> items = plan_.batches[static_cast<size_t>(index)];
      const int64_t epoch = epoch_;
      lock.unlock();
      slot = Build(epoch, index, items);
      lock.lock();
    } else {
      const auto t0 = std::chrono::steady_clock::now();
      ready_cv_.wait(lock, [&] { return stop_ || ready_.count(index) > 0; });
      stats_.wait_seconds += std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
      if (stop_) return std::nullopt;
      slot = std::move(ready_[index]);
      ready_.erase(index);
    }
    ++consumed_;
    work_cv_.notify_all();
    if (slot.error) std::rethrow_exception(slot.error);
    if (!slot.batch || slot.batch->size() == 0) continue;  // every utterance of it was skipped (and listed)
    ++stats_.batches;
    stats_.audio_seconds += static_cast<double>(slot.batch->lengths.sum().item<int64_t>()) / config_.sample_rate;
    return std::move(slot.batch);
  }
  return std::nullopt;
}

LoaderStats DataLoader::stats() const {
  std::lock_guard<std::mutex> lock(mu_);
  return stats_;
}

std::vector<SkippedLine> DataLoader::skipped() const {
  std::lock_guard<std::mutex> lock(mu_);
  return skipped_;
}

std::vector<float> DataLoader::LoadUtterance(int64_t item) const {
  std::string error;
  std::vector<float> x = Decode(item, 0, false, &error);
  if (!error.empty()) throw DataError(error);
  return x;
}

}  // namespace fas

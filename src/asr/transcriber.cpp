#include "fas/asr/transcriber.h"

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <mutex>
#include <sstream>
#include <thread>

#include "fas/audio/audio.h"
#include "fas/core/error.h"
#include "fas/core/progress.h"

namespace fs = std::filesystem;

namespace fas {

namespace {

std::mutex& RegistryMutex() {
  static std::mutex mu;
  return mu;
}

std::map<std::string, TranscriberFactory>& Registry() {
  static std::map<std::string, TranscriberFactory> registry = {
      {"pocketsphinx", [](const TranscriberConfig& c) {
         return CreatePocketSphinxTranscriber(c.pocketsphinx, c.ResolvedCacheDir() + "/dicts");
       }}};
  return registry;
}

std::string ReadBytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw IoError("cannot read audio file '" + path + "'");
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

uint64_t Mix(uint64_t x) {  // splitmix64's finaliser
  x ^= x >> 30;
  x *= 0xbf58476d1ce4e5b9ULL;
  x ^= x >> 27;
  x *= 0x94d049bb133111ebULL;
  x ^= x >> 31;
  return x;
}

fs::path CachePath(const std::string& dir, const std::string& key) {
  return fs::path(dir) / key.substr(0, 2) / (key + ".txt");
}

}  // namespace

std::string ContentHash(const std::string& bytes) {
  // Two 64-bit FNV-1a lanes with different offsets, each finished by splitmix: stable everywhere, and 128 bits
  // make an accidental collision between two cached utterances negligible.
  uint64_t a = 0xcbf29ce484222325ULL, b = 0x84222325cbf29ce4ULL;
  for (unsigned char c : bytes) {
    a = (a ^ c) * 0x100000001b3ULL;
    b = (b ^ (c + 0x5bU)) * 0x100000001b3ULL;
  }
  a = Mix(a ^ bytes.size());
  b = Mix(b + 0x9e3779b97f4a7c15ULL * bytes.size());
  char buf[33];
  std::snprintf(buf, sizeof(buf), "%016llx%016llx", static_cast<unsigned long long>(a),
                static_cast<unsigned long long>(b));
  return buf;
}

std::string TranscriberConfig::ResolvedCacheDir() const {
  if (!cache_dir.empty()) return cache_dir;
  if (const char* d = std::getenv("FAS_CACHE_DIR"); d && *d) return std::string(d) + "/transcripts";
  if (const char* d = std::getenv("XDG_CACHE_HOME"); d && *d) return std::string(d) + "/fas/transcripts";
  if (const char* d = std::getenv("HOME"); d && *d) return std::string(d) + "/.cache/fas/transcripts";
  return (fs::temp_directory_path() / "fas-transcripts").string();
}

void RegisterTranscriber(const std::string& name, TranscriberFactory factory) {
  std::lock_guard<std::mutex> lock(RegistryMutex());
  Registry()[name] = std::move(factory);
}

std::vector<std::string> TranscriberNames() {
  std::lock_guard<std::mutex> lock(RegistryMutex());
  std::vector<std::string> names;
  for (const auto& [name, f] : Registry()) names.push_back(name);
  return names;
}

std::unique_ptr<Transcriber> CreateTranscriber(const TranscriberConfig& config) {
  TranscriberFactory factory;
  {
    std::lock_guard<std::mutex> lock(RegistryMutex());
    auto it = Registry().find(config.backend);
    if (it == Registry().end()) {
      std::string known;
      for (const auto& [name, f] : Registry()) known += (known.empty() ? "" : ", ") + name;
      throw ConfigError("unknown ASR back-end '" + config.backend + "' (known: " + known + ")");
    }
    factory = it->second;
  }
  return factory(config);
}

CachedTranscriber::CachedTranscriber(TranscriberConfig config) : config_(std::move(config)) {}
CachedTranscriber::~CachedTranscriber() = default;

std::string CachedTranscriber::TranscribeFile(const std::string& path, bool* from_cache) {
  if (!decoder_) {
    decoder_ = CreateTranscriber(config_);
    fingerprint_ = decoder_->Fingerprint();
  }
  const std::string key = ContentHash(fingerprint_ + '\0' + ReadBytes(path));
  const fs::path cached = CachePath(config_.ResolvedCacheDir(), key);
  if (config_.cache) {
    std::ifstream in(cached);
    std::string text;
    if (in && std::getline(in, text)) {
      if (from_cache) *from_cache = true;
      return text;
    }
  }
  const std::vector<float> samples = ReadAudio(path);
  const std::string text = decoder_->Transcribe(samples);
  decoded_seconds_ += samples.size() / 16000.0;
  if (from_cache) *from_cache = false;
  if (config_.cache) {
    std::error_code ec;
    fs::create_directories(cached.parent_path(), ec);
    // Written beside and renamed, so that a concurrent reader never sees half a line.
    std::ostringstream tmp_name;
    tmp_name << cached.string() << ".tmp" << std::this_thread::get_id();
    {
      std::ofstream out(tmp_name.str());
      out << text << '\n';
      if (!out) return text;  // an unwritable cache only costs speed
    }
    fs::rename(tmp_name.str(), cached, ec);
  }
  return text;
}

std::vector<std::string> TranscribeFiles(const std::vector<std::string>& paths, const TranscriberConfig& config,
                                         int threads, TranscribeStats* stats, std::vector<std::string>* failures) {
  std::vector<std::string> out(paths.size());
  if (failures != nullptr) failures->assign(paths.size(), "");
  std::atomic<int64_t> failed{0};
  if (paths.empty()) return out;
  // The config is checked once, here, before any thread starts.
  CreateTranscriber(config);
  threads = std::max(1, std::min<int>(threads, static_cast<int>(paths.size())));
  std::atomic<size_t> next{0};
  std::atomic<int64_t> cached_count{0};
  std::vector<double> decoded_seconds(threads, 0.0);
  std::mutex error_mu;
  std::exception_ptr error;
  Progress progress("transcribe", static_cast<int64_t>(paths.size()), "utt");
  const auto t0 = std::chrono::steady_clock::now();
  auto worker = [&](int t) {
    try {
      // A shared queue: a transcript does not depend on which thread decodes it or what it decoded before
      // (pocketsphinx reinitialises its decoder for every utterance).
      CachedTranscriber decoder(config);
      for (size_t i = next++; i < paths.size(); i = next++) {
        bool hit = false;
        if (failures == nullptr) {
          out[i] = decoder.TranscribeFile(paths[i], &hit);
        } else {
          try {
            out[i] = decoder.TranscribeFile(paths[i], &hit);
          } catch (const Error& e) {
            (*failures)[i] = e.what();
            ++failed;
          }
        }
        if (hit) ++cached_count;
        progress.Advance();
      }
      decoded_seconds[t] = decoder.decoded_seconds();
    } catch (...) {
      std::lock_guard<std::mutex> lock(error_mu);
      if (!error) error = std::current_exception();
      next = paths.size();  // the other threads stop at their next file
    }
  };
  std::vector<std::thread> pool;
  for (int t = 1; t < threads; ++t) pool.emplace_back(worker, t);
  worker(0);
  for (auto& t : pool) t.join();
  progress.Finish();
  if (error) std::rethrow_exception(error);
  if (stats != nullptr) {
    stats->cached = cached_count;
    stats->decoded = static_cast<int64_t>(paths.size()) - cached_count - failed;
    stats->audio_seconds = 0.0;
    for (double s : decoded_seconds) stats->audio_seconds += s;
    stats->decode_seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  }
  return out;
}

}  // namespace fas

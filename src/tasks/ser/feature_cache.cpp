#include "fas/tasks/ser/feature_cache.h"

#include <spdlog/spdlog.h>
#include <sys/stat.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>

#include "fas/asr/transcriber.h"
#include "fas/config/binder.h"
#include "fas/core/error.h"
#include "fas/core/progress.h"
#include "fas/io/safetensors.h"

namespace fs = std::filesystem;

namespace fas {
namespace {

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

}  // namespace

std::string DefaultFeatureCacheDir() {
  if (const char* d = std::getenv("FAS_CACHE_DIR"); d != nullptr && *d) return std::string(d) + "/features";
  if (const char* d = std::getenv("XDG_CACHE_HOME"); d != nullptr && *d) return std::string(d) + "/fas/features";
  const char* home = std::getenv("HOME");
  return std::string(home != nullptr ? home : ".") + "/.cache/fas/features";
}

FeatureCache::FeatureCache(std::string dir, SerModel model, const LoaderConfig& loader)
    : dir_(std::move(dir)), model_(std::move(model)), loader_(loader) {
  ModelConfig cfg = model_->config();
  acoustic_ = model_->uses_acoustic() && model_->acoustic_frozen();
  semantic_ = model_->uses_semantic() && model_->semantic_frozen();
  if (acoustic_) {
    acoustic_key_ = ContentHash("acoustic|" + ConfigToString(cfg.acoustic) + "|" + loader_.normalize + "|" +
                                std::to_string(loader_.sample_rate) + "|" + WeightsHash(*model_, "acoustic_encoder."));
  }
  if (semantic_) {
    semantic_key_ = ContentHash("semantic|" + ConfigToString(cfg.semantic) + "|" + loader_.normalize + "|" +
                                std::to_string(loader_.sample_rate) + "|" + WeightsHash(*model_, "semantic_encoder."));
    const std::string& tok = cfg.semantic.tokenizer.model;
    tokenizer_key_ = cfg.semantic.type == "text" && !tok.empty() ? FileStamp(tok) : "";
  }
}

FeatureCache FeatureCache::TextOnly() const {
  FeatureCache text = *this;
  text.acoustic_ = false;
  text.semantic_ = semantic_ && model_->config().semantic.type == "text";
  return text;
}

std::string FeatureCache::EntryPath(const std::string& pathway_key, const std::string& utterance_key) const {
  return dir_ + "/" + pathway_key.substr(0, 16) + "/" + utterance_key.substr(0, 2) + "/" + utterance_key +
         ".safetensors";
}

std::string FeatureCache::UtteranceKey(const SerDataset& data, int64_t i, bool semantic) const {
  const Utterance& u = data.utterance(i);
  std::string key = FileStamp(u.audio_path) + "|" + std::to_string(u.offset) + "|" + std::to_string(u.duration);
  const bool text = semantic && model_->config().semantic.type == "text";
  if (text) key = "text|" + data.text(i) + "|" + tokenizer_key_;  // the words alone decide a text encoder's output
  return ContentHash((semantic ? semantic_key_ : acoustic_key_) + "|" + key);
}

CacheFillStats FeatureCache::Fill(const SerDataset& data) {
  CacheFillStats stats;
  if (!enabled()) return stats;
  const auto start = std::chrono::steady_clock::now();
  torch::NoGradGuard no_grad;
  const bool was_training = model_->is_training();
  model_->eval();
  Progress progress("features " + fs::path(data.manifest_path()).filename().string(), data.size(), "utt");
  for (int64_t i = 0; i < data.size(); ++i) {
    std::vector<float> samples;  // decoded once for both audio pathways
    for (bool semantic : {false, true}) {
      if (semantic ? !semantic_ : !acoustic_) continue;
      const std::string path = EntryPath(semantic ? semantic_key_ : acoustic_key_, UtteranceKey(data, i, semantic));
      if (fs::exists(path)) {
        ++stats.reused;
        continue;
      }
      SerInput in;
      if (!semantic || model_->config().semantic.type != "text") {
        if (samples.empty()) {
          try {
            samples = data.LoadUtterance(i, loader_);
          } catch (const DataError& e) {
            if (!loader_.skip_bad) {
              throw DataError(std::string(e.what()) + " (--skip-bad leaves such utterances out and lists them)");
            }
            // Left out of the cache: Has() says so, and batches read from the cache leave it out too.
            const Utterance& u = data.utterance(i);
            stats.skipped.push_back(SkippedLine{u.line, u.id, e.what(), data.manifest_path()});
            spdlog::warn("skipped {}", e.what());
            break;
          }
        }
        std::tie(in.waveform, in.lengths) = PadWaveforms({samples});
      } else {
        const TokenBatch t = model_->Tokenize({data.text(i)});
        in.input_ids = t.input_ids;
        in.attention_mask = t.attention_mask;
      }
      const StreamFeatures f = semantic ? model_->EncodeSemantic(in) : model_->EncodeAcoustic(in);
      const int64_t valid = f.mask[0].sum().item<int64_t>();
      fs::create_directories(fs::path(path).parent_path());
      WriteSafeTensors(path, {{"states", f.states[0].narrow(1, 0, valid).contiguous()}});
      ++stats.computed;
    }
    progress.Advance();
  }
  progress.Finish();
  model_->train(was_training);
  stats.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return stats;
}

bool FeatureCache::Has(const SerDataset& data, int64_t i) const {
  for (bool semantic : {false, true}) {
    if (semantic ? !semantic_ : !acoustic_) continue;
    const std::string path = EntryPath(semantic ? semantic_key_ : acoustic_key_, UtteranceKey(data, i, semantic));
    if (!fs::exists(path)) return false;
  }
  return true;
}

void FeatureCache::Load(const SerDataset& data, const std::vector<int64_t>& batch, SerInput& input,
                        bool load_acoustic, bool load_semantic) const {
  for (bool semantic : {false, true}) {
    if (semantic ? !(semantic_ && load_semantic) : !(acoustic_ && load_acoustic)) continue;
    std::vector<torch::Tensor> states;
    int64_t longest = 0;
    for (int64_t i : batch) {
      const std::string path = EntryPath(semantic ? semantic_key_ : acoustic_key_, UtteranceKey(data, i, semantic));
      if (!fs::exists(path)) {
        throw IoError("feature cache entry for '" + data.utterance(i).id + "' is missing (" + path +
                      "); run `fas extract` with this config");
      }
      states.push_back(SafeTensorsFile(path).Get("states", torch::kFloat32));
      longest = std::max(longest, states.back().size(1));
    }
    const int64_t b = static_cast<int64_t>(batch.size());
    torch::Tensor out = torch::zeros({b, states[0].size(0), longest, states[0].size(2)});
    torch::Tensor mask = torch::zeros({b, longest}, torch::kBool);
    for (int64_t k = 0; k < b; ++k) {
      const int64_t t = states[static_cast<size_t>(k)].size(1);
      out[k].narrow(1, 0, t).copy_(states[static_cast<size_t>(k)]);
      mask[k].narrow(0, 0, t).fill_(true);
    }
    (semantic ? input.semantic_features : input.acoustic_features) = out;
    (semantic ? input.semantic_mask : input.acoustic_mask) = mask;
  }
}

}  // namespace fas

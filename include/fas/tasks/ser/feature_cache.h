// Features of frozen encoders, computed once and kept in a feature store (fas/io/feature_shards.h: sharded,
// memory-mapped, checksummed): a frozen encoder gives the same hidden states every epoch, so training reads them
// instead of running the encoder again.
//
// One store a pathway, keyed by everything that changes what it holds: the encoder (its weights' bytes and its
// config, layer selection included), the decoding (sample rate, normalisation), the pooling window, the stored
// dtype, the LibTorch version and the device class. Models, seeds and sweeps with the same key share the store.
// Inside it an entry is keyed by the utterance: the audio file (path, size, modification time, offset and
// duration) or, for a text encoder, the transcript and the tokenizer. Stale entries are never read.
//
// What an entry holds: the selected hidden states [S, T, D] before the learned layer mix (so the mix keeps
// training). When the head reads a pathway only through patch means (FusionHeadImpl::reads_patches), the store
// keeps the per-layer patch means [S, ceil(T / s), D] instead: the layer mix and patch averaging are both linear,
// so they commute, and the head computes the same logits from them (SerInput::*_patched tells it not to pool again).
//
// Layout: DIR/<first 16 hex digits of the pathway key>/ with store.json, index.jsonl, shard-NNNNNN.safetensors.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "fas/core/device.h"
#include "fas/io/feature_shards.h"
#include "fas/models/ser_model.h"
#include "fas/tasks/ser/ser_dataset.h"

namespace fas {

struct CacheFillStats {
  int64_t computed = 0;
  int64_t reused = 0;
  double seconds = 0;
  double audio_seconds = 0;  // audio encoded
  // Utterances whose audio could not be decoded (data.skip_bad): not cached, left out of every cached batch.
  std::vector<SkippedLine> skipped;
};

struct FeatureStoreOptions {
  std::string dtype = "float32";             // float32 | bfloat16 | float16: what an entry is stored as
  int64_t shard_bytes = int64_t{256} << 20;  // a shard is written once its entries reach this size
  double batch_seconds = 0;  // most padded audio seconds an extraction batch; 0 = data.max_batch_seconds,
                             // else 60
  std::string precision = "auto";  // auto | fp32 | bf16: what the encoders compute in (autocast)
};

class FeatureCache {
 public:
  // Caches the pathways the model reads whose encoder is frozen for the whole run (none: enabled() is false).
  // Audio is decoded as `loader` says (sample rate, normalisation: both part of the key).
  FeatureCache(std::string dir, SerModel model, const LoaderConfig& loader, FeatureStoreOptions options = {});

  bool enabled() const { return acoustic_.on || semantic_.on; }
  bool acoustic() const { return acoustic_.on; }
  bool semantic() const { return semantic_.on; }

  // The same cache restricted to the pathways whose input is not audio (a text encoder reads the transcript):
  // what training may read when crops or augmentation change the audio every epoch.
  FeatureCache TextOnly() const;

  // Computes the entries `data` lacks, in batches of similar length decoded by worker threads, both pathways in
  // one pass over the audio, under each store's lock (a second extraction of the same key waits, then finds the
  // entries there).
  CacheFillStats Fill(const SerDataset& data);

  // Whether every cached pathway has utterance i of `data` (false for one Fill left out).
  bool Has(const SerDataset& data, int64_t i) const;

  // The cached pathways of a batch, as SerInput's *_features / *_mask ([B, S, T, D] float32 zero-padded, [B, T]
  // bool) and *_patched. Throws IoError when an entry is missing (Fill was not run on this dataset).
  // `load_acoustic` / `load_semantic`: which of the cached pathways to load (a counterfactual batch takes the
  // semantic stream of other utterances).
  void Load(const SerDataset& data, const std::vector<int64_t>& batch, SerInput& input, bool load_acoustic = true,
            bool load_semantic = true) const;

  // The store folder of a pathway ("" when the pathway is not cached).
  std::string StoreDir(bool semantic) const;
  // Drops one shard of this cache's stores (its path), so that the next Fill computes its entries again.
  void DropShard(const std::string& shard_path);

 private:
  struct Pathway {
    bool on = false;
    std::string key;          // the store's key
    std::string description;  // what the store holds, for the log and store.json
    int64_t patch = 1;        // the pooling window applied before storing (1: frames)
    std::shared_ptr<ShardStore> store;
  };
  const Pathway& pathway(bool semantic) const { return semantic ? semantic_ : acoustic_; }
  void OpenStore(Pathway& p) const;
  std::string UtteranceKey(const SerDataset& data, int64_t i, bool semantic) const;
  // Encodes `items` (a length-sorted list) into the stores; counts into `stats`.
  void Extract(const SerDataset& data, const std::vector<int64_t>& items, CacheFillStats& stats);

  std::string dir_;
  SerModel model_;
  LoaderConfig loader_;
  FeatureStoreOptions options_;
  Precision precision_ = Precision::kFloat32;  // options_.precision on the model's device
  Pathway acoustic_, semantic_;
  std::string tokenizer_key_;
};

// The default cache folder: $FAS_CACHE_DIR/features, else $XDG_CACHE_HOME/fas/features, else ~/.cache/fas/features.
std::string DefaultFeatureCacheDir();

// The torch dtype of FeatureStoreOptions::dtype; throws ConfigError naming `key` for another value.
torch::ScalarType StoreDType(const std::string& dtype, const std::string& key = "data.cache_dtype");

}  // namespace fas

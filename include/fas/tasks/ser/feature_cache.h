// Features of frozen encoders, computed once per utterance and kept on disk: a frozen wav2vec2 or text encoder
// gives the same hidden states every epoch, so training reads them instead of running the encoder again.
//
// An entry is keyed by a hash of the encoder (its weights' bytes and its config, layer selection included), the
// audio file (path, size, modification time, offset and duration) and its decoding (rate, normalisation) and, for a text encoder, the transcript and the
// tokenizer. Anything that changes the features changes the key; stale entries are never read.
// Layout: DIR/<pathway key>/<2 hex>/<utterance key>.safetensors holding `states` [S, T, D] (S selected layers).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "fas/models/ser_model.h"
#include "fas/tasks/ser/ser_dataset.h"

namespace fas {

struct CacheFillStats {
  int64_t computed = 0;
  int64_t reused = 0;
  double seconds = 0;
  // Utterances whose audio could not be decoded (data.skip_bad): not cached, left out of every cached batch.
  std::vector<SkippedLine> skipped;
};

class FeatureCache {
 public:
  // Caches the pathways the model reads whose encoder is frozen for the whole run (none: enabled() is false).
  // Audio is decoded as `loader` says (sample rate, normalisation: both part of the key).
  FeatureCache(std::string dir, SerModel model, const LoaderConfig& loader);

  bool enabled() const { return acoustic_ || semantic_; }
  bool acoustic() const { return acoustic_; }
  bool semantic() const { return semantic_; }

  // The same cache restricted to the pathways whose input is not audio (a text encoder reads the transcript):
  // what training may read when crops or augmentation change the audio every epoch.
  FeatureCache TextOnly() const;

  // Computes the entries `data` lacks (one utterance at a time, so no padding reaches a frozen encoder).
  CacheFillStats Fill(const SerDataset& data);

  // Whether every cached pathway has utterance i of `data` (false for one Fill left out).
  bool Has(const SerDataset& data, int64_t i) const;

  // The cached pathways of a batch, as SerInput's *_features / *_mask ([B, S, T, D] zero-padded, [B, T] bool).
  // Throws IoError when an entry is missing (Fill was not run on this dataset).
  // `load_acoustic` / `load_semantic`: which of the cached pathways to load (a counterfactual batch takes the
  // semantic stream of other utterances).
  void Load(const SerDataset& data, const std::vector<int64_t>& batch, SerInput& input, bool load_acoustic = true,
            bool load_semantic = true) const;

 private:
  std::string EntryPath(const std::string& pathway_key, const std::string& utterance_key) const;
  std::string UtteranceKey(const SerDataset& data, int64_t i, bool semantic) const;
  std::string dir_;
  SerModel model_;
  LoaderConfig loader_;
  bool acoustic_ = false, semantic_ = false;
  std::string acoustic_key_, semantic_key_, tokenizer_key_;
};

// The default cache folder: $FAS_CACHE_DIR/features, else $XDG_CACHE_HOME/fas/features, else ~/.cache/fas/features.
std::string DefaultFeatureCacheDir();

}  // namespace fas

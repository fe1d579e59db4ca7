// An experiment: one YAML file (with `extends:` and --set) that says what to train, on what, how, and what to
// evaluate at the end. `fas train`, `fas extract` and `fas config show` bind it; an unknown key is an error.
//
//   name: fas_synthetic
//   seed: 42
//   task: ser
//   model: {...}                  # ModelConfig (models/ser_model.h)
//   data: {root, train, dev, labels, label_map, cache_dir, loader: {...}}
//   train: {...}                  # TrainConfig (fas/engine/train_config.h)
//   eval: [{name: test, manifest: test.jsonl}, {name: conflict, manifest: conflict.jsonl}]
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "fas/data/loader.h"
#include "fas/models/ser_model.h"
#include "fas/tasks/ser/feature_cache.h"
#include "fas/engine/train_config.h"

namespace fas {

namespace experiment_detail {
// Forwards every field but one to the visitor `v`.
template <class V>
struct AllBut {
  V& v;
  const char* skip;
  template <class T>
  void operator()(const char* key, T& field, const char* help = "") {
    if (std::string(key) != skip) v(key, field, help);
  }
};
}  // namespace experiment_detail

// `data:` holds the corpus and, at the same level, every field of the data module's LoaderConfig (batch_size,
// max_batch_seconds, bucketing, max_train_seconds, num_workers, normalize, augment, skip_bad, ...) but
// text_field: the transcript an SER model reads is model.semantic.text_field, one key for one setting
// (LoadExperimentConfig refuses a data.text_field that says otherwise).
struct DataConfig {
  std::string root;                   // corpus folder; manifests below are relative to it (empty: the working dir)
  std::string train = "train.jsonl";
  std::string dev = "dev.jsonl";
  std::string labels;                 // label set file; empty = the canonical 7 classes
  std::string label_map;              // the corpus's label map (file, or a corpus name under configs/labels/)
  std::string cache_dir;              // feature cache; empty = $FAS_CACHE_DIR/features or ~/.cache/fas/features
  std::string cache_dtype = "float32";  // what the feature store keeps: float32 | bfloat16 | float16
  double cache_shard_mb = 256;          // a feature store shard is closed once its entries reach this size
  std::string extract_precision = "auto";  // auto (bf16 on a GPU, fp32 on the CPU) | fp32 | bf16
  std::string label_field = "label";  // label | text_label: the manifest field a run learns and is scored on
  LoaderConfig loader;

  template <class V>
  void Visit(V& v) {
    v("root", root, "corpus folder the manifests are relative to");
    v("train", train, "training manifest");
    v("dev", dev, "dev manifest (evaluation during training, best checkpoint)");
    v("labels", labels, "label set file (empty: canonical 7 classes)");
    v("label_map", label_map, "corpus label map: file or corpus name (empty: labels already in the set)");
    v("cache_dir", cache_dir, "feature cache folder for frozen encoders");
    v("cache_dtype", cache_dtype, "stored feature dtype: float32 (exact) | bfloat16 | float16 (half the size)");
    v("cache_shard_mb", cache_shard_mb, "size at which a feature store shard is closed (MB)");
    v("extract_precision", extract_precision,
      "precision frozen encoders extract features in: auto (bf16 on a GPU, fp32 on the CPU) | fp32 | bf16");
    v("label_field", label_field,
      "the field a run learns and is scored on: label (the voice's emotion) or text_label (the words' emotion, "
      "to train a text-emotion encoder for other runs to start from)");
    experiment_detail::AllBut<V> loader_fields{v, "text_field"};
    loader.Visit(loader_fields);
  }
  std::string Resolve(const std::string& manifest) const;  // a manifest path against root
  std::string ResolvedCacheDir() const;
  FeatureStoreOptions StoreOptions() const;  // the feature store's settings from this section
};

struct EvalSetConfig {
  std::string name;
  std::string manifest;

  template <class V>
  void Visit(V& v) {
    v("name", name, "folder under eval/ and the dataset name in results.json");
    v("manifest", manifest, "manifest, relative to data.root");
  }
};

// Throws ConfigError naming the first `eval[i]` whose name is not a plain, unique folder name or that names no
// manifest.
void ValidateEvalSets(const std::vector<EvalSetConfig>& eval);

struct ExperimentConfig {
  std::string name = "experiment";
  uint64_t seed = 42;
  std::string task = "ser";  // ser | asr
  std::string device = "auto";  // auto | cpu | cuda | cuda:N (fas/core/device.h)
  ModelConfig model;
  DataConfig data;
  TrainConfig train;
  std::vector<EvalSetConfig> eval;

  template <class V>
  void Visit(V& v) {
    v("name", name, "run name (the default run directory is runs/NAME)");
    v("seed", seed, "seeds every random choice of the run");
    v("task", task, "ser (emotion classification) | asr (CTC recogniser)");
    v("device", device, "where the run computes: auto (a GPU when one is visible) | cpu | cuda | cuda:N");
    v("model", model);
    v("data", data);
    v("train", train);
    v("eval", eval);
  }
  // Throws ConfigError naming the first bad field.
  void Validate() const;
};

// Loads files + --set assignments into an ExperimentConfig (unknown keys are errors) and validates it.
// data.text_field is not a key of an SER experiment: given with the value model.semantic.text_field has, it is
// accepted (it says the same); any other value is a ConfigError naming where it was set and the key to use.
// `run_config`: the files are a run's config.yaml, written by fas; those written before data.text_field was
// refused carry the loader's default there, never read, and it is dropped.
ExperimentConfig LoadExperimentConfig(const std::vector<std::string>& files, const std::vector<std::string>& sets,
                                      bool run_config = false);

// The two config texts that decide whether `given` continues the run whose config is `stored`: both resolved,
// with the run's evaluation sets taken as `given`'s (they may change), `given`'s empty tokenizer taken as the one the
// run trained for itself, and with `plan_may_change` the plan keys (TrainConfig::TakePlanFrom) taken as `given`'s.
// Equal texts: the same run (a resume, a finished suite cell).
std::pair<std::string, std::string> ComparableRunConfigs(const ExperimentConfig& given,
                                                         const ExperimentConfig& stored, bool plan_may_change);

}  // namespace fas

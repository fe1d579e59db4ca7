// ASR runs (`task: asr`): `fas train` trains the CTC recogniser (fas/encoders/ctc_model.h: a wav2vec2-family
// encoder + lm_head) with CTC loss on a manifest's reference transcripts, through the run engine as SER runs
// (fas/engine/run.h: run folder, optimiser, schedule, checkpoints, resume, non-finite guard, stop signals). The dev
// metric is the word error rate (lower is better: `best` is the checkpoint with the lowest dev WER); cer and loss
// are logged beside it.
//
//   name: asr_ctc_small
//   seed: 42
//   task: asr
//   model: {encoder: {...}, vocab, final_dropout, normalization: {...}, beam_width}   # CtcModelConfig
//   data: {root, train, dev, text_field: text, batch_size, normalize, ...}            # + every LoaderConfig key
//   train: {...}                                                                      # TrainConfig; best_metric: wer
//   eval: [{name: test, manifest: test.jsonl}, ...]
//
// Run directory: as an SER run's (config.yaml, train.log, metrics.jsonl, checkpoints/{last,best}), and
//   - every checkpoint folder is also a CTC model folder (config.json, vocab.json, preprocessor_config.json beside
//     model.safetensors): `fas transcribe --backend ctc --model RUN/checkpoints/best`, or `--model RUN`;
//   - vocab.json: the character vocabulary built from the training text (unless model.vocab names one);
//   - dev_initial.json: the dev metrics of the untrained model, the baseline training must beat;
//   - eval/NAME/results.json (wer, cer, S/D/I counts, and the WER of the manifest's own asr_text on the same
//     utterances when it has one) and eval/NAME/transcripts.jsonl, for every `eval:` manifest, with `best`.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "fas/asr/wer.h"
#include "fas/data/loader.h"
#include "fas/encoders/ctc_model.h"
#include "fas/tasks/ser/experiment_config.h"
#include "fas/engine/run.h"
#include "fas/engine/train_config.h"
#include "fas/engine/trainer.h"

namespace fas {

// `data:` of an ASR run: the corpus and, at the same level, every LoaderConfig field. text_field names the
// reference transcript the model learns and is scored against (default `text`, the sentence as written).
// Training crops (max_train_seconds) and class balancing do not apply: a crop would cut the transcript.
struct AsrDataConfig {
  std::string root;
  std::string train = "train.jsonl";
  std::string dev = "dev.jsonl";
  LoaderConfig loader;

  AsrDataConfig() { loader.text_field = "text"; }

  template <class V>
  void Visit(V& v) {
    v("root", root, "corpus folder the manifests are relative to");
    v("train", train, "training manifest");
    v("dev", dev, "dev manifest (WER during training, best checkpoint)");
    loader.Visit(v);
  }
  std::string Resolve(const std::string& manifest) const;  // a manifest path against root
};

struct AsrExperimentConfig {
  std::string name = "asr";
  uint64_t seed = 42;
  std::string task = "asr";
  std::string device = "auto";  // auto | cpu | cuda | cuda:N (fas/core/device.h)
  CtcModelConfig model;
  AsrDataConfig data;
  TrainConfig train;
  std::vector<EvalSetConfig> eval;

  AsrExperimentConfig() { train.best_metric = "wer"; }

  template <class V>
  void Visit(V& v) {
    v("name", name, "run name (the default run directory is runs/NAME)");
    v("seed", seed, "seeds every random choice of the run");
    v("task", task, "asr (CTC recogniser)");
    v("device", device, "where the run computes: auto (a GPU when one is visible) | cpu | cuda | cuda:N");
    v("model", model);
    v("data", data);
    v("train", train);
    v("eval", eval);
  }
  // Throws ConfigError naming the first bad field.
  void Validate() const;
};

// Loads files + --set assignments into an AsrExperimentConfig (unknown keys are errors) and validates it.
AsrExperimentConfig LoadAsrExperimentConfig(const std::vector<std::string>& files,
                                            const std::vector<std::string>& sets);

// Trains `config` into the run directory, then evaluates every `eval:` manifest with the best checkpoint. On a
// stop signal, saves `last` and throws Interrupted. On --resume, `config` must resolve to the run's config.yaml
// (only the plan may change). One process: data-parallel ranks (WORLD_SIZE > 1) are refused.
TrainSummary TrainAsrExperiment(AsrExperimentConfig config, const TrainRunOptions& options);

// The ASR task for the run engine (fas/tasks/registry.h builds it from a config's files).
std::unique_ptr<Task> MakeAsrTask(AsrExperimentConfig config);

// Word and character error rates of a set of transcripts, with the counts summed over utterances.
struct AsrScores {
  WerCounts words;
  WerCounts chars;  // the same alignment over characters (spaces included): the character error rate
  double loss = 0;  // mean CTC loss per target character over the utterances (NaN when not computed)
};

// Transcribes every utterance of `manifest` with `model` (eval mode, no gradient) and scores it against the
// loader's text_field; writes out_dir/{results.json,transcripts.jsonl} unless out_dir is empty.
AsrScores EvaluateCtc(CtcModel& model, const std::string& manifest, const AsrDataConfig& data, int beam_width,
                      const std::string& out_dir = "", const std::string& name = "");

}  // namespace fas

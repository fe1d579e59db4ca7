// The `train:` section of an experiment config: optimiser, schedule, batching over steps, evaluation cadence,
// early stopping and the guards. Defaults are the paper's (AdamW, lr 2e-4, cosine with 5 % warmup, weight decay
// 1e-4, seed 42 at the top level).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <utility>

namespace fas {

struct EarlyStoppingConfig {
  int patience = 0;  // evaluations without improvement before stopping; 0 = off
  double min_delta = 0.0;

  template <class V>
  void Visit(V& v) {
    v("patience", patience, "evaluations without an improvement before stopping (0 = off)");
    v("min_delta", min_delta, "smallest change of best_metric that counts as an improvement");
  }
};

// Training-time modality dropout (SER heads that read both pathways): per example, one uniform draw drops the
// acoustic pathway with probability `acoustic`, else the semantic one with probability `semantic`; never both.
struct ModalityDropoutConfig {
  double acoustic = 0.0;
  double semantic = 0.0;

  template <class V>
  void Visit(V& v) {
    v("acoustic", acoustic, "probability that a training example's acoustic features are zeroed");
    v("semantic", semantic, "probability that a training example's semantic features are zeroed");
  }
  bool enabled() const { return acoustic > 0 || semantic > 0; }
};

// Counterfactual pairing (SER heads that read both pathways): with probability `prob` a training example takes
// its semantic stream from another training utterance whose words carry a different emotion; its label stays the
// voice's.
// `dev`: the dev evaluation also scores a counterfactual dev set (every dev utterance with the words of a dev
// utterance of another emotion): cf_acc, cf_ua, cf_macro_f1, which best_metric may name.
// `text_model`: a run folder of a words-only model (configs/models/text_emotion.yaml); its prediction from the
// transcript gives the words' emotion of every utterance whose manifest line has no `text_label` (a real corpus).
struct CounterfactualConfig {
  double prob = 0.0;
  bool dev = false;
  std::string text_model;

  template <class V>
  void Visit(V& v) {
    v("prob", prob, "probability that a training example's words come from an utterance with another emotion");
    v("dev", dev, "also score a counterfactual dev set (cf_acc, cf_ua, cf_macro_f1) for best_metric to choose by");
    v("text_model", text_model, "run folder of a words-only model whose predictions stand in for a missing text_label");
  }
  bool enabled() const { return prob > 0 || dev; }
};

struct TrainConfig {
  std::string optimizer = "adamw";
  double lr = 2e-4;          // fusion head, layer weights, classifier
  double encoder_lr = 2e-5;  // encoders that train (finetune / scratch)
  double weight_decay = 1e-4;
  double beta1 = 0.9, beta2 = 0.999, eps = 1e-8;
  std::string schedule = "cosine";  // cosine | linear | constant
  double warmup = 0.05;             // < 1: fraction of the steps; >= 1: steps
  double grad_clip = 1.0;           // max global L2 norm of the gradients; 0 = off
  int accumulation = 1;             // micro-batches a step
  int global_batch = 0;             // > 0: accumulation = global_batch / (batch_size x world_size)
  int64_t max_steps = 0;            // optimizer steps; 0 = epochs decide, else caps them
  int epochs = 100;
  bool class_weighted = false;      // cross-entropy weighted by inverse class frequency of the training set
  double label_smoothing = 0.0;
  ModalityDropoutConfig modality_dropout;  // off by default: the paper's models train without it
  CounterfactualConfig counterfactual;     // off by default, likewise
  int64_t eval_every = 0;           // steps between dev evaluations; 0 = each epoch
  int64_t log_every = 10;           // steps between metrics.jsonl lines
  std::string best_metric = "ua";   // dev metric for `best` and early stopping (loss: lower is better)
  EarlyStoppingConfig early_stopping;
  int max_nonfinite_steps = 5;      // consecutive skipped steps (non-finite loss or gradient) before failing
  int threads = 0;                  // intra-op threads; 0 = the --threads option
  bool cache_features = true;       // frozen encoders: read features from the cache (written on demand)
  double distributed_timeout = 300;  // seconds a data-parallel collective may wait for the other ranks
  std::string precision = "fp32";   // fp32 | bf16 | fp16: autocast of the forward passes (weights stay float32)
  bool tf32 = true;                 // GPUs: float32 matmuls and convolutions on TF32 tensor cores
  bool deterministic = false;       // only deterministic kernels (an op without one fails the run)

  template <class V>
  void Visit(V& v) {
    v("optimizer", optimizer, "adamw (decoupled weight decay)");
    v("lr", lr, "learning rate of the head (fusion, layer weights, classifier)");
    v("encoder_lr", encoder_lr, "learning rate of encoders that train");
    v("weight_decay", weight_decay, "decoupled weight decay (not applied to biases and norms)");
    v("beta1", beta1);
    v("beta2", beta2);
    v("eps", eps);
    v("schedule", schedule, "cosine | linear | constant");
    v("warmup", warmup, "below 1: fraction of the steps; 1 or more: steps");
    v("grad_clip", grad_clip, "max global gradient L2 norm (0 = off)");
    v("accumulation", accumulation, "micro-batches accumulated into one optimizer step");
    v("global_batch", global_batch, "examples a step; sets accumulation (0 = batch_size x accumulation)");
    v("max_steps", max_steps, "optimizer steps (0 = epochs decide; otherwise caps them)");
    v("epochs", epochs);
    v("class_weighted", class_weighted, "weight the loss by inverse class frequency");
    v("label_smoothing", label_smoothing);
    v("modality_dropout", modality_dropout);
    v("counterfactual", counterfactual);
    v("eval_every", eval_every, "steps between dev evaluations (0 = each epoch)");
    v("log_every", log_every, "steps between metrics.jsonl lines");
    v("best_metric", best_metric, "dev metric for the best checkpoint and early stopping");
    v("early_stopping", early_stopping);
    v("max_nonfinite_steps", max_nonfinite_steps, "non-finite steps in a row before training fails");
    v("threads", threads, "intra-op threads (0 = --threads)");
    v("cache_features", cache_features, "cache the features of frozen encoders and train on them");
    v("distributed_timeout", distributed_timeout,
      "seconds a data-parallel rank waits for the others before failing (a dead or stuck rank)");
    v("precision", precision,
      "fp32 | bf16 | fp16: the forward passes autocast to this dtype, the weights and the optimizer stay float32 "
      "(fp16 adds dynamic loss scaling)");
    v("tf32", tf32, "on a GPU, float32 matmuls and convolutions use TF32 tensor cores (false: exact float32)");
    v("deterministic", deterministic,
      "only deterministic kernels, so that a GPU run repeats bit for bit (slower; an op without a deterministic "
      "kernel, such as CTC loss on a GPU, then fails the run)");
  }
  // Throws ConfigError naming the first bad field (`train.<key>`).
  void Validate() const;
  // Copies the plan keys of `given` (how long, how often to evaluate and log, threads, timeouts, early stopping):
  // the only train keys a resumed run may change.
  void TakePlanFrom(const TrainConfig& given);
};

// A resumed run must be the same run: `given` and `stored` (resolved configs, as ConfigToString writes them, the
// plan keys and eval list already made equal) must be the same text. Throws ConfigError naming the first line
// that differs.
void CheckSameRunConfig(const std::string& given, const std::string& stored, const std::string& run_dir);

// The first line where two config texts differ (each side's line, "" past its end); nullopt when they are equal.
std::optional<std::pair<std::string, std::string>> FirstDifferentLine(const std::string& a, const std::string& b);

}  // namespace fas

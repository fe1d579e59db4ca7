// Benchmark 2: a training step of the FAS head on cached features, at the paper's head settings (d 512, 8 heads,
// N_q 2, s 5, k_aco 8, k_sem 16, dropout 0.4) and batch 256: wav2vec2-base frames (768-d) and Whisper-large
// encoder states (1280-d), 3 s at 50 Hz with lengths between 1.5 and 3 s. The step is the framework's Trainer
// step (AdamW groups, cosine schedule, clipping at 1.0).
//
//   bench_head --prepare DIR   writes DIR/head.json (the shapes and hyperparameters, for the peer),
//                              DIR/head.safetensors (initial weights) and DIR/batch.safetensors (the batch)
//   bench_head --dir DIR [--threads 2] [--warmup 2] [--steps 10]
//                              loads both and prints one JSON line (bench_util.h) with each step's time
#include <torch/torch.h>

#include <cstdio>
#include <fstream>
#include <nlohmann/json.hpp>

#include "bench_util.h"
#include "fas/core/runtime.h"
#include "fas/fusion/fusion.h"
#include "fas/io/safetensors.h"
#include "fixed_batch_trainer.h"

namespace {

constexpr int64_t kBatch = 256, kFrames = 150, kAcousticDim = 768, kSemanticDim = 1280, kClasses = 7;

fas::FusionConfig HeadConfig() {
  fas::FusionConfig c;  // the paper's head (configs/suites/paper_encoders.yaml)
  c.d_model = 512;
  c.num_heads = 8;
  c.num_queries = 2;
  c.patch_aco = 5;
  c.patch_sem = 5;
  c.k_aco = 8;
  c.k_sem = 16;
  c.mlp_ratio = 2.0;
  c.dropout = 0.4;
  c.pooling = "flatten";
  return c;
}

torch::Tensor LengthMask(int64_t batch, int64_t frames) {
  const auto lengths = torch::randint(frames / 2, frames + 1, {batch, 1}, torch::kLong);
  return torch::arange(frames).unsqueeze(0).lt(lengths);
}

void Prepare(const std::string& dir) {
  torch::manual_seed(0);
  const fas::FusionConfig c = HeadConfig();
  auto head = fas::MakeFusionHead("fas", c, kAcousticDim, kSemanticDim, kClasses);
  fas::SaveStateDict(*head, dir + "/head.safetensors");
  fas::WriteSafeTensors(dir + "/batch.safetensors",
                        {{"acoustic", torch::randn({kBatch, kFrames, kAcousticDim})},
                         {"acoustic_mask", LengthMask(kBatch, kFrames)},
                         {"semantic", torch::randn({kBatch, kFrames, kSemanticDim})},
                         {"semantic_mask", LengthMask(kBatch, kFrames)},
                         {"labels", torch::randint(0, kClasses, {kBatch}, torch::kLong)}});
  nlohmann::json j = {{"d_model", c.d_model},     {"num_heads", c.num_heads}, {"num_queries", c.num_queries},
                      {"patch_aco", c.patch_aco}, {"patch_sem", c.patch_sem}, {"k_aco", c.k_aco},
                      {"k_sem", c.k_sem},         {"mlp_ratio", c.mlp_ratio}, {"dropout", c.dropout},
                      {"acoustic_dim", kAcousticDim}, {"semantic_dim", kSemanticDim}, {"num_classes", kClasses},
                      {"lr", 2e-4}, {"weight_decay", 1e-4}, {"warmup", 0.05}, {"grad_clip", 1.0},
                      {"trainable_parameters", fas::CountTrainableParameters(*head)}};
  std::ofstream(dir + "/head.json") << j.dump(2) << "\n";
}

void Run(const std::string& dir, int warmup, int steps, const std::string& profile) {
  torch::manual_seed(1);
  auto head = fas::MakeFusionHead("fas", HeadConfig(), kAcousticDim, kSemanticDim, kClasses);
  fas::LoadStateDict(*head, dir + "/head.safetensors", fas::NameMap{});
  const fas::SafeTensorsFile batch(dir + "/batch.safetensors");
  const fas::FusionInput input{batch.Get("acoustic"), batch.Get("acoustic_mask"), batch.Get("semantic"),
                               batch.Get("semantic_mask")};
  fas::TrainConfig config;  // the paper's optimiser settings
  config.lr = 2e-4;
  config.weight_decay = 1e-4;
  config.schedule = "cosine";
  config.warmup = 0.05;
  config.grad_clip = 1.0;
  fas::bench::FixedBatchObjective objective(
      *head, {{"head", head->parameters(), config.lr}}, [&] { return head->Forward(input).logits; },
      batch.Get("labels"), warmup + steps);
  const fas::bench::StepTimes t = fas::bench::TimeTrainerSteps(objective, config, warmup, steps, profile);
  fas::bench::PrintResult("head", "fas head step, batch 256", t.ms, t.peak_rss_mib,
                          {{"threads", fas::IntraOpThreads()}});
}

}  // namespace

int main(int argc, char** argv) {
  try {
    const fas::bench::Options o(argc, argv, {{"prepare", ""}, {"dir", ""}, {"threads", "2"}, {"warmup", "2"},
                                             {"steps", "10"}, {"profile", ""}},
                                "bench_head --prepare DIR | --dir DIR [--threads N] [--warmup N] [--steps N] [--profile trace.json]");
    fas::InitRuntime({o.integer("threads")});
    if (o.has("prepare")) {
      Prepare(o.str("prepare"));
    } else if (o.has("dir")) {
      Run(o.str("dir"), std::max(1, o.integer("warmup")), o.integer("steps"), o.str("profile"));
    } else {
      throw fas::ConfigError("give --prepare DIR or --dir DIR");
    }
    return 0;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "error: %s\n", e.what());
    return 1;
  }
}

// Benchmark 3: one full training step of the small from-scratch model the synthetic suite trains
// (configs/models/fas.yaml: a wav2vec2-style acoustic encoder and a BERT-style text encoder, both trained, and the
// FAS head), through the framework's Trainer, on one batch of the config's size (16): 1.5-3.5 s of audio and the
// tokenised sentences of the synthetic corpus.
//
//   bench_train_step --prepare DIR --config configs/models/fas.yaml --sentences data/synth/sentences
//       trains the tokenizer (DIR/tokenizer.model), writes the initial weights (DIR/model.safetensors), the batch
//       (DIR/batch.safetensors) and DIR/model.json (architecture and optimiser settings, for the peer and FLOPs)
//   bench_train_step --dir DIR --config configs/models/fas.yaml [--threads 2] [--warmup 2] [--steps 10]
//       prints one JSON line (bench_util.h) with each step's time
#include <torch/torch.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <random>

#include "bench_util.h"
#include "fas/core/runtime.h"
#include "fas/io/safetensors.h"
#include "fas/tasks/ser/experiment_config.h"
#include "fixed_batch_trainer.h"

namespace fs = std::filesystem;

namespace {

std::vector<std::string> ReadSentences(const std::string& dir) {
  std::vector<std::string> out;
  std::vector<fs::path> files;
  for (const auto& e : fs::directory_iterator(dir)) files.push_back(e.path());
  std::sort(files.begin(), files.end());
  for (const auto& f : files) {
    std::ifstream in(f);
    for (std::string line; std::getline(in, line);) {
      if (!line.empty() && line[0] != '#') out.push_back(line);
    }
  }
  if (out.empty()) throw fas::DataError("no sentences under " + dir);
  return out;
}

fas::ExperimentConfig LoadConfig(const std::string& config, const std::string& tokenizer) {
  std::vector<std::string> sets;
  if (!tokenizer.empty()) sets.push_back("model.semantic.tokenizer.model=" + tokenizer);
  return fas::LoadExperimentConfig({config}, sets);
}

nlohmann::json Describe(const fas::ExperimentConfig& cfg, const fas::SerModel& model) {
  const auto a = fas::ResolveAcousticConfig(cfg.model.acoustic.encoder);
  const auto& t = cfg.model.semantic.text;
  const auto& f = cfg.model.fusion;
  const auto& tr = cfg.train;
  return {{"acoustic",
           {{"conv_dim", a.conv_dim}, {"conv_kernel", a.conv_kernel}, {"conv_stride", a.conv_stride},
            {"conv_bias", a.conv_bias}, {"feat_extract_norm", a.feat_extract_norm},
            {"num_conv_pos_embeddings", a.num_conv_pos_embeddings},
            {"num_conv_pos_embedding_groups", a.num_conv_pos_embedding_groups}, {"hidden_size", a.hidden_size},
            {"num_hidden_layers", a.num_hidden_layers}, {"num_attention_heads", a.num_attention_heads},
            {"intermediate_size", a.intermediate_size}, {"hidden_dropout", a.hidden_dropout},
            {"attention_dropout", a.attention_dropout}, {"activation_dropout", a.activation_dropout},
            {"feat_proj_dropout", a.feat_proj_dropout}, {"layer_norm_eps", a.layer_norm_eps},
            {"mask_time_prob", a.mask_time_prob}, {"mask_time_length", a.mask_time_length}}},
          {"text",
           {{"hidden_size", t.hidden_size},
            {"num_hidden_layers", t.num_hidden_layers}, {"num_attention_heads", t.num_attention_heads},
            {"intermediate_size", t.intermediate_size}, {"max_position_embeddings", t.max_position_embeddings},
            {"type_vocab_size", t.type_vocab_size}, {"layer_norm_eps", t.layer_norm_eps},
            {"hidden_dropout_prob", t.hidden_dropout_prob},
            {"attention_probs_dropout_prob", t.attention_probs_dropout_prob}}},
          {"fusion",
           {{"d_model", f.d_model}, {"num_heads", f.num_heads}, {"num_queries", f.num_queries},
            {"patch_aco", f.patch_aco}, {"patch_sem", f.patch_sem}, {"k_aco", f.k_aco}, {"k_sem", f.k_sem},
            {"mlp_ratio", f.mlp_ratio}, {"dropout", f.dropout}}},
          {"num_classes", model->labels().size()},
          {"train",
           {{"lr", tr.lr}, {"encoder_lr", tr.encoder_lr}, {"weight_decay", tr.weight_decay}, {"warmup", tr.warmup},
            {"grad_clip", tr.grad_clip}, {"batch_size", cfg.data.loader.batch_size}}},
          {"trainable_parameters", model->NumTrainableParameters()}};
}

void Prepare(const std::string& dir, const std::string& config, const std::string& sentences_dir) {
  fs::create_directories(dir);
  torch::manual_seed(0);
  fas::ExperimentConfig cfg = LoadConfig(config, "");
  const std::vector<std::string> sentences = ReadSentences(sentences_dir);
  fas::PrepareTokenizer(cfg.model, sentences, dir);
  fas::SerModel model = fas::BuildModel(cfg.model, fas::CanonicalLabels());
  fas::SaveStateDict(*model, dir + "/model.safetensors");

  const int64_t batch = cfg.data.loader.batch_size;
  std::mt19937_64 rng(0);
  std::vector<std::string> texts;
  std::vector<int64_t> lengths;
  for (int64_t i = 0; i < batch; ++i) {
    texts.push_back(sentences[rng() % sentences.size()]);
    lengths.push_back(24000 + static_cast<int64_t>(rng() % 32001));  // 1.5-3.5 s at 16 kHz
  }
  const int64_t longest = *std::max_element(lengths.begin(), lengths.end());
  torch::Tensor wave = torch::randn({batch, longest}) * 0.1;
  const torch::Tensor len = torch::tensor(lengths, torch::kLong);
  wave = wave * torch::arange(longest).unsqueeze(0).lt(len.unsqueeze(1));
  const fas::TokenBatch tokens = model->Tokenize(texts);
  fas::WriteSafeTensors(dir + "/batch.safetensors",
                        {{"waveform", wave},
                         {"lengths", len},
                         {"input_ids", tokens.input_ids},
                         {"attention_mask", tokens.attention_mask},
                         {"labels", torch::randint(0, static_cast<int64_t>(model->labels().size()), {batch},
                                                   torch::kLong)}});
  nlohmann::json j = Describe(cfg, model);
  const fas::Tokenizer tokenizer(cfg.model.semantic.tokenizer);
  j["text"]["vocab_size"] = tokenizer.vocab_size();
  j["text"]["pad_token_id"] = tokenizer.pad_id();
  std::ofstream(dir + "/model.json") << j.dump(2) << "\n";
}

void Run(const std::string& dir, const std::string& config, int warmup, int steps, const std::string& profile) {
  torch::manual_seed(1);
  const fas::ExperimentConfig cfg = LoadConfig(config, dir + "/tokenizer.model");
  fas::SerModel model = fas::BuildModel(cfg.model, fas::CanonicalLabels());
  fas::LoadStateDict(*model, dir + "/model.safetensors", fas::NameMap{});
  const fas::SafeTensorsFile b(dir + "/batch.safetensors");
  fas::SerInput input;
  input.waveform = b.Get("waveform");
  input.lengths = b.Get("lengths");
  input.input_ids = b.Get("input_ids");
  input.attention_mask = b.Get("attention_mask");
  const fas::ParameterGroups g = model->Groups();
  fas::bench::FixedBatchObjective objective(
      *model, {{"encoder", g.encoder, cfg.train.encoder_lr}, {"head", g.head, cfg.train.lr}},
      [&] { return model->Forward(input).logits; }, b.Get("labels"), warmup + steps);
  const fas::bench::StepTimes t = fas::bench::TimeTrainerSteps(objective, cfg.train, warmup, steps, profile);
  fas::bench::PrintResult("train_step", "fas.yaml model step, batch 16", t.ms, t.peak_rss_mib,
                          {{"threads", fas::IntraOpThreads()}});
}

}  // namespace

int main(int argc, char** argv) {
  try {
    const fas::bench::Options o(
        argc, argv,
        {{"prepare", ""}, {"dir", ""}, {"config", "configs/models/fas.yaml"}, {"sentences", "data/synth/sentences"},
         {"threads", "2"}, {"warmup", "2"}, {"steps", "10"}, {"profile", ""}},
        "bench_train_step --prepare DIR [--config C] [--sentences DIR] | --dir DIR [--config C] [--threads N] "
        "[--warmup N] [--steps N] [--profile trace.json]");
    fas::InitRuntime({o.integer("threads")});
    if (o.has("prepare")) {
      Prepare(o.str("prepare"), o.str("config"), o.str("sentences"));
    } else if (o.has("dir")) {
      Run(o.str("dir"), o.str("config"), std::max(1, o.integer("warmup")), o.integer("steps"), o.str("profile"));
    } else {
      throw fas::ConfigError("give --prepare DIR or --dir DIR");
    }
    return 0;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "error: %s\n", e.what());
    return 1;
  }
}

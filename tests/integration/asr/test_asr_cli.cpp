// `fas train` with a task: asr config (the CTC recogniser) on the tiny synthetic corpus, through the real binary:
// the run's files, the trained model recognising dev words the untrained one does not, final evaluations, and
// `fas transcribe --backend ctc` with the trained run.
//
// The shipped config (log-mel front end, characters) with a test-sized plan: 700 steps of batch 4 on 112 training
// utterances (measured: dev WER 100 % untrained and up to step 300, 95-96 % at step 700, CER 51-54 %; about 2 min on
// 2 shared cores). The tiny corpus's dev sentences are not among its training sentences, so these are words
// recognised in new sentences. docs/asr.md has the default corpus's figures.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <regex>

#include "fas/io/safetensors.h"
#include "support/test_support.h"

namespace fs = std::filesystem;
using fas::testing::JsonLines;
using fas::testing::ReadFile;
using fas::testing::RunFas;
using fas::testing::TempDir;

namespace {

// The shipped config, shortened to fit a test.
std::vector<std::string> TrainArgs(const std::string& run) {
  return {"train",
          "--config", fas::testing::SourceDir() + "/configs/asr/ctc_small.yaml",
          "--set", "data.root=" + fas::testing::TinyCorpus(),
          "--set", "data.batch_size=4",
          "--set", "train.epochs=100",
          "--set", "train.max_steps=700",
          "--set", "train.eval_every=100",
          "--set", "train.schedule=constant",
          "--set", "train.warmup=50",
          "--run-dir", run,
          "--threads", "2"};
}

TEST(AsrCli, TrainsBeyondTheUntrainedModelAndTranscribes) {
  ASSERT_TRUE(fs::exists(fas::testing::TinyCorpus() + "/train.jsonl")) << "tiny corpus fixture missing: " << fas::testing::TinyCorpus();
  TempDir d;
  const std::string run = d / "run";
  auto r = RunFas(TrainArgs(run));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("best dev wer"), std::string::npos) << r.out;

  for (const char* f : {"config.yaml", "vocab.json", "dev_initial.json", "metrics.jsonl",
                        "checkpoints/best/model.safetensors", "checkpoints/best/config.json",
                        "checkpoints/best/vocab.json", "checkpoints/best/preprocessor_config.json",
                        "checkpoints/last/optimizer.pt", "eval/dev/results.json", "eval/test/results.json",
                        "eval/conflict/results.json", "eval/test/transcripts.jsonl"}) {
    EXPECT_TRUE(fs::exists(run + "/" + f)) << f;
  }
  // The checkpoint is a HuggingFace Wav2Vec2ForCTC folder.
  const auto hf = nlohmann::json::parse(ReadFile(run + "/checkpoints/best/config.json"));
  EXPECT_EQ(hf.at("architectures")[0], "Wav2Vec2ForCTC");
  EXPECT_TRUE(nlohmann::json::parse(ReadFile(run + "/checkpoints/best/preprocessor_config.json")).at("do_normalize"));

  // Training lowers the dev loss far below the untrained model's, and the best dev WER is below the untrained
  // model's and below 100 %: it recognises words (more correct words than insertions), not just emits nothing.
  // `best` is the evaluation with the lowest dev WER (the first of equals).
  const auto initial = nlohmann::json::parse(ReadFile(run + "/dev_initial.json"));
  std::vector<double> dev_wer, dev_loss;
  for (const auto& j : JsonLines(run + "/metrics.jsonl")) {
    if (j.value("event", "") != "eval") continue;
    dev_wer.push_back(j.at("wer").get<double>());
    dev_loss.push_back(j.at("loss").get<double>());
  }
  ASSERT_EQ(dev_wer.size(), 7u);
  const double best = *std::min_element(dev_wer.begin(), dev_wer.end());
  std::printf("dev: untrained WER %.3f loss %.3f; after %d steps WER %.3f loss %.3f; best WER %.3f\n",
              initial.at("wer").get<double>(), initial.at("loss").get<double>(), 700, dev_wer.back(), dev_loss.back(),
              best);
  EXPECT_LT(dev_loss.back(), 0.5 * initial.at("loss").get<double>());
  EXPECT_LT(best, initial.at("wer").get<double>());
  EXPECT_LT(best, 1.0);

  // The final evaluation of `dev` uses `best`: the same WER as its dev evaluation during training.
  const auto dev = nlohmann::json::parse(ReadFile(run + "/eval/dev/results.json"));
  EXPECT_EQ(dev.at("task"), "asr");
  EXPECT_NEAR(dev.at("wer").get<double>(), best, 1e-9);
  EXPECT_GT(dev.at("cer").get<double>(), 0.0);
  EXPECT_EQ(dev.at("words").at("utterances"), JsonLines(fas::testing::TinyCorpus() + "/dev.jsonl").size());
  // The manifest's own transcripts (pocketsphinx's, from fas synth) are scored on the same utterances.
  EXPECT_LT(dev.at("manifest_asr_text").at("wer").get<double>(), 0.5);

  // `fas transcribe` loads the run directory itself and reports the WER of the same transcripts.
  const std::string out = d / "dev_ctc.jsonl";
  r = RunFas({"transcribe", "--manifest", fas::testing::TinyCorpus() + "/dev.jsonl", "--out", out, "--backend", "ctc", "--model", run,
              "--no-cache", "--threads", "2"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  std::smatch m;
  ASSERT_TRUE(std::regex_search(r.out, m, std::regex(R"(overall: WER ([0-9.]+)%)"))) << r.out;
  // Utterance by utterance rather than padded in batches: equal up to float rounding at the padding's edge.
  EXPECT_NEAR(std::stod(m[1]) / 100.0, best, 0.02) << r.out;
  EXPECT_EQ(JsonLines(out).size(), JsonLines(fas::testing::TinyCorpus() + "/dev.jsonl").size());

  // The run is not started twice, and a resume must be the same run.
  r = RunFas(TrainArgs(run));
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("--resume"), std::string::npos) << r.err;
  auto changed = TrainArgs(run);
  changed.insert(changed.end(), {"--set", "model.encoder.hidden_size=64", "--resume"});
  r = RunFas(changed);
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("differs"), std::string::npos) << r.err;
}

// task: asr can start from a pretrained HuggingFace encoder (config.json + model.safetensors, as a hub model ships
// them): after two steps at a negligible learning rate the checkpoint holds the pretrained tensors, under
// Wav2Vec2ForCTC's names, next to a new lm_head.
TEST(AsrCli, StartsFromAPretrainedHuggingFaceEncoder) {
  TempDir d;
  const std::string run = d / "run";
  const std::string hf = fas::testing::SourceDir() + "/tests/fixtures/acoustic/wav2vec2_postln_group";
  const auto r = RunFas({"train",
                         "--config",
                         fas::testing::SourceDir() + "/configs/asr/ctc_small.yaml",
                         "--set",
                         "data.root=" + fas::testing::TinyCorpus(),
                         "--set",
                         "model.encoder.hf_config=" + hf + "/config.json",
                         "--set",
                         "model.encoder.weights=" + hf + "/model.safetensors",
                         "--set",
                         "train.max_steps=2",
                         "--set",
                         "train.lr=1e-12",
                         "--set",
                         "train.encoder_lr=1e-12",
                         "--set",
                         "eval=[]",
                         "--run-dir",
                         run,
                         "--threads",
                         "2"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  std::map<std::string, torch::Tensor> trained;
  for (const auto& [name, t] : fas::ReadSafeTensors(run + "/checkpoints/last/model.safetensors")) trained[name] = t;
  const auto pretrained = fas::ReadSafeTensors(hf + "/model.safetensors");
  ASSERT_FALSE(pretrained.empty());
  for (const auto& [name, t] : pretrained) {
    const std::string key = "wav2vec2." + name;
    ASSERT_EQ(trained.count(key), 1u) << key;
    EXPECT_LT((trained.at(key) - t).abs().max().item<double>(), 1e-9) << name;
  }
  EXPECT_EQ(trained.count("lm_head.weight"), 1u);
}

}  // namespace

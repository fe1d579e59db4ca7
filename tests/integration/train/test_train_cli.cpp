// `fas train` → `fas eval` → `fas predict` through the real binary on the tiny synthetic corpus, then a stop by
// SIGTERM and `--resume`; bad and unlabelled input (--skip-bad on every command that reads a manifest, label maps,
// manifests without labels) on a small run trained from a few of its utterances.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <sstream>

#include "support/test_support.h"

namespace fs = std::filesystem;
using fas::testing::JsonLines;
using fas::testing::ReadFile;
using fas::testing::RunFas;
using fas::testing::TempDir;
using fas::testing::WriteFile;

namespace {

std::vector<std::string> TrainArgs(const std::string& run, const std::string& cache) {
  return {"train",
          "--config", fas::testing::SourceDir() + "/configs/models/fas.yaml",
          "--set", "data.root=" + fas::testing::TinyCorpus(),
          "--set", "data.cache_dir=" + cache,
          "--set", "data.batch_size=8",
          "--set", "train.max_steps=24",
          "--set", "train.eval_every=6",
          "--set", "train.log_every=2",
          "--set", "train.warmup=2",
          // The shipped 1e-3 suits 12 epochs with 10 % warm-up; in 24 steps on 112 utterances it overshoots and the
          // dev loss wanders (2.03 -> 2.08), while 3e-4 lowers it steadily (2.01 -> 1.97).
          "--set", "train.lr=3e-4",
          "--set", "train.encoder_lr=3e-4",
          "--run-dir", run,
          "--threads", "2"};
}

TEST(TrainCli, TrainEvalPredictOnTheTinyCorpus) {
  ASSERT_TRUE(fs::exists(fas::testing::TinyCorpus() + "/train.jsonl")) << "tiny corpus fixture missing: " << fas::testing::TinyCorpus();
  TempDir d;
  const std::string run = d / "run";
  auto r = RunFas(TrainArgs(run, d / "cache"));
  ASSERT_EQ(r.exit_code, 0) << r.err;

  for (const char* f : {"config.yaml", "train.log", "metrics.jsonl", "checkpoints/last/model.safetensors",
                        "checkpoints/last/optimizer.pt", "checkpoints/last/trainer_state.json",
                        "checkpoints/best/model.safetensors", "eval/test/results.json",
                        "eval/test/predictions.jsonl", "eval/conflict/results.json"}) {
    EXPECT_TRUE(fs::exists(run + "/" + f)) << f;
  }
  // The resolved config binds again (it is a complete experiment config) and names the trained tokenizer.
  auto shown = RunFas({"config", "show", "--config", run + "/config.yaml"});
  EXPECT_EQ(shown.exit_code, 0) << shown.err;
  EXPECT_NE(ReadFile(run + "/config.yaml").find("tokenizer.model"), std::string::npos);

  std::vector<double> dev_loss;
  int step_lines = 0;
  for (const auto& j : JsonLines(run + "/metrics.jsonl")) {
    EXPECT_EQ(j.at("seed"), 42) << j.dump();
    if (j.value("event", "") == "eval") dev_loss.push_back(j.at("loss").get<double>());
    if (!j.contains("event")) ++step_lines;
  }
  EXPECT_EQ(step_lines, 12);
  ASSERT_EQ(dev_loss.size(), 4u);
  EXPECT_LT(dev_loss.back(), dev_loss.front()) << "training must lower the dev loss";

  const auto results = nlohmann::json::parse(ReadFile(run + "/eval/test/results.json"));
  EXPECT_EQ(results.at("seed"), 42);
  EXPECT_EQ(results.at("dataset"), "test");
  EXPECT_GT(results.at("n").get<int>(), 0);

  // The test evaluation at the end of training gives the probabilities a fresh process gives on the same
  // checkpoint: nothing the encoders derive for inference (packed weights) outlives an optimizer step.
  r = RunFas({"eval", "--run", run, "--manifest", fas::testing::TinyCorpus() + "/test.jsonl", "--name", "test_again",
              "--threads", "2"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const auto trained = JsonLines(run + "/eval/test/predictions.jsonl");
  const auto again = JsonLines(run + "/eval/test_again/predictions.jsonl");
  ASSERT_EQ(trained.size(), again.size());
  double worst = 0;
  for (size_t i = 0; i < trained.size(); ++i) {
    ASSERT_EQ(trained[i].at("id"), again[i].at("id"));
    for (const auto& [label, p] : trained[i].at("probs").items()) {
      worst = std::max(worst, std::abs(p.get<double>() - again[i].at("probs").at(label).get<double>()));
    }
  }
  EXPECT_LT(worst, 1e-5) << "the evaluation after training and a fresh one differ";

  r = RunFas({"eval", "--run", run, "--manifest", fas::testing::TinyCorpus() + "/conflict.jsonl", "--name", "zs", "--threads", "2"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const auto zs = nlohmann::json::parse(ReadFile(run + "/eval/zs/results.json"));
  EXPECT_EQ(zs.at("n"), JsonLines(fas::testing::TinyCorpus() + "/conflict.jsonl").size());
  EXPECT_EQ(JsonLines(run + "/eval/zs/predictions.jsonl").size(), zs.at("n").get<size_t>());

  const auto utts = JsonLines(fas::testing::TinyCorpus() + "/test.jsonl");
  ASSERT_GE(utts.size(), 2u);
  const std::string a = fas::testing::TinyCorpus() + "/" + utts[0].at("audio").get<std::string>();
  const std::string b = fas::testing::TinyCorpus() + "/" + utts[1].at("audio").get<std::string>();
  r = RunFas({"predict", "--run", run, a, b, "--text", utts[0].value("asr_text", "i am fine"), "--text",
              utts[1].value("asr_text", "i am fine"), "--threads", "2"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  std::istringstream lines(r.out);
  int n = 0;
  for (std::string line; std::getline(lines, line); ++n) {
    const auto j = nlohmann::json::parse(line);
    EXPECT_TRUE(j.contains("label"));
    double total = 0, share = j.at("acoustic_share").get<double>() + j.at("semantic_share").get<double>();
    for (const auto& [k, v] : j.at("probs").items()) total += v.get<double>();
    EXPECT_NEAR(total, 1.0, 1e-6);
    EXPECT_NEAR(share, 1.0, 1e-6);
  }
  EXPECT_EQ(n, 2);

  // The device switch: a misspelt device, and a GPU where none is visible, are one error line each, naming the
  // option and what to use instead; the run itself stays usable on the CPU.
  r = RunFas({"eval", "--run", run, "--manifest", fas::testing::TinyCorpus() + "/conflict.jsonl", "--device", "gpu"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_EQ(r.err, "error: --device: 'gpu' is not a device (auto | cpu | cuda | cuda:N)\n");
  const bool gpu = RunFas({"doctor"}).out.find("none visible") == std::string::npos;
  if (!gpu) {
    r = RunFas({"predict", "--run", run, a, "--text", "i am fine", "--device", "cuda"});
    EXPECT_EQ(r.exit_code, 1);
    EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
    EXPECT_NE(r.err.find("asks for a GPU"), std::string::npos) << r.err;
    auto on_gpu = TrainArgs(d / "gpu_run", d / "cache");
    on_gpu.insert(on_gpu.end(), {"--device", "cuda:0"});
    r = RunFas(on_gpu);
    EXPECT_EQ(r.exit_code, 1);
    EXPECT_NE(r.err.find("error: device: 'cuda:0' asks for a GPU"), std::string::npos) << r.err;
    EXPECT_FALSE(fs::exists(fs::path(d / "gpu_run") / "config.yaml")) << "nothing is written before the device is known";
  }
  r = RunFas({"predict", "--run", run, a, "--text", "i am fine", "--device", "cpu"});
  EXPECT_EQ(r.exit_code, 0) << r.err;

  // The same run directory again without --resume is refused; with a different config, --resume is refused.
  r = RunFas(TrainArgs(run, d / "cache"));
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("--resume"), std::string::npos) << r.err;
  auto changed = TrainArgs(run, d / "cache");
  changed.insert(changed.end(), {"--set", "train.lr=0.5", "--resume"});
  r = RunFas(changed);
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("differs"), std::string::npos) << r.err;
}

// Mixed precision through the real binary on the FAS head (its fused kept-rows projection has a backward of its
// own, which autocast's bf16 rows reach): bf16 trains and evaluates; fp16 scales its loss and logs the scale.
TEST(TrainCli, MixedPrecisionTrainsTheFasHead) {
  TempDir d;
  for (const std::string precision : {"bf16", "fp16"}) {
    const std::string run = d / precision;
    auto args = TrainArgs(run, d / "cache");
    args.insert(args.end(), {"--set", "train.max_steps=4", "--set", "train.eval_every=4", "--set",
                             "train.precision=" + precision, "--set", "eval=[]"});
    const auto r = RunFas(args);
    ASSERT_EQ(r.exit_code, 0) << precision << ": " << r.err;
    bool scaled = false;
    for (const auto& j : JsonLines(run + "/metrics.jsonl")) {
      if (j.contains("loss")) EXPECT_TRUE(std::isfinite(j.at("loss").get<double>())) << j.dump();
      scaled = scaled || j.contains("loss_scale");
    }
    EXPECT_EQ(scaled, precision == "fp16") << precision;
  }
}

// The conflict-robust options through the real binary: counterfactual pairing (the tiny corpus carries the words'
// emotion) and modality dropout train; a head that reads one pathway refuses them.
TEST(TrainCli, CounterfactualPairingAndModalityDropoutTrain) {
  TempDir d;
  auto args = TrainArgs(d / "run", d / "cache");
  args.insert(args.end(), {"--set", "train.max_steps=4", "--set", "train.eval_every=0", "--set",
                           "train.counterfactual.prob=0.5", "--set", "train.modality_dropout.acoustic=0.2", "--set",
                           "train.modality_dropout.semantic=0.2", "--set", "train.counterfactual.dev=true", "--set",
                           "train.best_metric=cf_ua", "--set", "eval=[{name: test, manifest: test.jsonl}]"});
  auto r = RunFas(args);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE((r.out + r.err).find("counterfactual pairing: probability 0.5"), std::string::npos) << r.out;
  EXPECT_NE(ReadFile(d / "run/config.yaml").find("counterfactual"), std::string::npos);
  // The counterfactual dev set is scored at every evaluation and chose the checkpoint; results.json says so.
  int evals = 0;
  for (const auto& j : JsonLines(d / "run/metrics.jsonl")) {
    if (j.value("event", "") != "eval") continue;
    ++evals;
    EXPECT_TRUE(j.contains("cf_ua") && j.contains("cf_acc")) << j.dump();
  }
  EXPECT_GT(evals, 0);
  const auto results = nlohmann::json::parse(ReadFile(d / "run/eval/test/results.json"));
  EXPECT_EQ(results.at("selected_by"), "best dev cf_ua");
  EXPECT_EQ(results.at("checkpoint"), "best");

  r = RunFas({"train", "--config", fas::testing::SourceDir() + "/configs/models/acoustic_only.yaml", "--set",
              "data.root=" + fas::testing::TinyCorpus(), "--set", "train.counterfactual.prob=0.5", "--run-dir",
              d / "one"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("needs a head that reads both pathways"), std::string::npos) << r.err;
}

// A manifest that does not state the words' emotion (a real corpus): counterfactual pairing refuses it with a line
// naming train.counterfactual.text_model, and pairs on a words-only run's predictions when one is named there.
TEST(TrainCli, CounterfactualPairingPredictsMissingWordEmotions) {
  TempDir d;
  const std::string tiny = fas::testing::TinyCorpus();
  auto r = RunFas({"train", "--config", fas::testing::SourceDir() + "/configs/models/text_emotion.yaml", "--set",
                   "data.root=" + tiny, "--set", "data.batch_size=8", "--set", "train.max_steps=4", "--set",
                   "train.eval_every=0", "--set", "eval=[]", "--run-dir", d / "words", "--threads", "2"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  fs::create_directories(d / "real");
  for (const char* name : {"train.jsonl", "dev.jsonl"}) {
    std::string lines;
    for (auto j : JsonLines(tiny + "/" + name)) {
      j.erase("text_label");
      j.erase("conflict");
      j["audio"] = tiny + "/" + j.at("audio").get<std::string>();
      lines += j.dump() + "\n";
    }
    WriteFile(d / "real" + "/" + name, lines);
  }
  auto args = TrainArgs(d / "run", d / "cache");
  args.insert(args.end(), {"--set", "data.root=" + (d / "real"), "--set", "eval=[]", "--set", "train.max_steps=2",
                           "--set", "train.eval_every=0", "--set", "train.counterfactual.prob=0.5"});
  r = RunFas(args);
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("train.counterfactual.text_model"), std::string::npos) << r.err;

  args.insert(args.end(), {"--set", "train.counterfactual.text_model=" + (d / "words")});
  fs::remove_all(d / "run");
  r = RunFas(args);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const std::string log = r.out + r.err;
  EXPECT_NE(log.find("from text_label"), std::string::npos) << log;
  EXPECT_NE(log.find("predicted by " + (d / "words")), std::string::npos) << log;
  EXPECT_NE(log.find("counterfactual pairing: probability 0.5"), std::string::npos) << log;
}

// SIGTERM mid-run: the step finishes, `last` is saved, the exit is clean; --resume then completes the run.
TEST(TrainCli, SigtermSavesAndResumeCompletes) {
  TempDir d;
  const std::string run = d / "run";
  auto args = TrainArgs(run, d / "cache");
  args[std::find(args.begin(), args.end(), "train.max_steps=24") - args.begin()] = "train.max_steps=400";
  const pid_t pid = fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    std::vector<char*> argv;
    std::string bin = fas::testing::FasBinary();
    argv.push_back(bin.data());
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    freopen("/dev/null", "w", stdout);
    freopen((run + ".stderr").c_str(), "w", stderr);
    execv(bin.c_str(), argv.data());
    _exit(127);
  }
  // Wait until training is under way (a metrics line exists), then ask it to stop.
  for (int i = 0; i < 600 && JsonLines(run + "/metrics.jsonl").empty(); ++i) usleep(100000);
  ASSERT_FALSE(JsonLines(run + "/metrics.jsonl").empty()) << ReadFile(run + ".stderr");
  kill(pid, SIGTERM);
  int status = 0;
  ASSERT_EQ(waitpid(pid, &status, 0), pid);
  ASSERT_TRUE(WIFEXITED(status)) << "killed by signal " << WTERMSIG(status) << " instead of a clean exit; stderr:\n"
                                 << ReadFile(run + ".stderr");
  EXPECT_EQ(WEXITSTATUS(status), 130) << ReadFile(run + ".stderr");
  const auto state = nlohmann::json::parse(ReadFile(run + "/checkpoints/last/trainer_state.json"));
  const int stopped_at = state.at("step").get<int>();
  EXPECT_GT(stopped_at, 0);
  EXPECT_LT(stopped_at, 400);

  // Resuming with a new step cap (a plan key, allowed to change) finishes the run there.
  auto r = RunFas({"train", "--run-dir", run, "--resume", "--set", "train.max_steps=" + std::to_string(stopped_at + 4),
                   "--threads", "2"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  const auto after = nlohmann::json::parse(ReadFile(run + "/checkpoints/last/trainer_state.json"));
  EXPECT_EQ(after.at("step").get<int>(), stopped_at + 4);
  EXPECT_TRUE(fs::exists(run + "/eval/conflict/results.json"));
}

// The first `n` lines of a tiny-corpus manifest, audio paths made absolute (the new manifests live elsewhere).
std::vector<nlohmann::json> CorpusLines(const std::string& manifest, size_t n) {
  std::vector<nlohmann::json> out;
  for (auto j : JsonLines(fas::testing::TinyCorpus() + "/" + manifest)) {
    if (out.size() == n) break;
    j["audio"] = fas::testing::TinyCorpus() + "/" + j.at("audio").get<std::string>();
    out.push_back(j);
  }
  return out;
}

std::string Lines(const std::vector<nlohmann::json>& lines, const std::vector<std::string>& extra = {}) {
  std::string out;
  for (const auto& j : lines) out += j.dump() + "\n";
  for (const auto& e : extra) out += e + "\n";
  return out;
}

// A folder with bad input: a file that is no audio (its line gives a duration, so that only decoding finds out),
// and manifest lines for it and for nothing at all.
struct BadInput {
  TempDir dir;
  std::string corrupt_line, not_json_line = "{\"id\": \"broken\", ";
  BadInput() {
    WriteFile(dir / "corrupt.wav", "RIFF this is no audio at all");
    corrupt_line = nlohmann::json{{"id", "corrupt"}, {"audio", dir / "corrupt.wav"}, {"label", "sad"},
                                  {"duration", 1.0}, {"asr_text", "words"}, {"text", "words"}}.dump();
  }
};

// A small acoustic_only run, trained once for the tests below with `fas train --skip-bad` on a manifest with a
// corrupt file and a line that is no JSON: the flag reaches the run's config (data.skip_bad), which evaluation
// then inherits.
const std::string& SmallRun() {
  static BadInput bad;
  static const std::string run = [] {
    const std::string root = bad.dir.path();
    WriteFile(bad.dir / "train.jsonl", Lines(CorpusLines("train.jsonl", 8), {bad.corrupt_line, bad.not_json_line}));
    const auto r = RunFas({"train", "--config", fas::testing::SourceDir() + "/configs/models/acoustic_only.yaml",
                           "--set", "data.root=" + root, "--set", "data.train=train.jsonl", "--set",
                           "data.dev=train.jsonl", "--set", "eval=[]", "--set", "data.batch_size=4", "--set",
                           "train.max_steps=2", "--set", "model.fusion.d_model=32", "--set",
                           "model.acoustic.encoder.hidden_size=32", "--set",
                           "model.acoustic.encoder.intermediate_size=64", "--skip-bad", "--run-dir",
                           bad.dir / "run", "--threads", "2"});
    EXPECT_EQ(r.exit_code, 0) << r.err;
    return bad.dir / "run";
  }();
  return run;
}

// With skip_bad, a skipped utterance is not scored (no all-zero prediction counted as class 0) and is counted.
TEST(EvalCli, SkippedUtterancesAreCountedNotScored) {
  BadInput bad;
  const auto good = CorpusLines("test.jsonl", 6);
  WriteFile(bad.dir / "m.jsonl", Lines(good, {bad.corrupt_line, bad.not_json_line}));
  const auto r = RunFas({"eval", "--run", SmallRun(), "--manifest", bad.dir / "m.jsonl", "--name", "bad"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const auto results = nlohmann::json::parse(ReadFile(SmallRun() + "/eval/bad/results.json"));
  EXPECT_EQ(results.at("n"), good.size());
  EXPECT_EQ(results.value("skipped", 0), 2);
  EXPECT_EQ(JsonLines(SmallRun() + "/eval/bad/predictions.jsonl").size(), good.size());
  const auto skipped = JsonLines(SmallRun() + "/eval/bad/skipped.jsonl");
  ASSERT_EQ(skipped.size(), 2u);
  EXPECT_TRUE(skipped[0].dump().find("corrupt") != std::string::npos ||
              skipped[1].dump().find("corrupt") != std::string::npos);
}

// The conflict breakdown compares the label and the words' label after the same corpus label map.
TEST(EvalCli, ConflictComparesMappedLabels) {
  const std::map<std::string, std::string> raw = {{"neutral", "neu"}, {"happy", "hap"}, {"sad", "sad"},
                                                  {"angry", "ang"}, {"surprise", "sur"}, {"fear", "fea"},
                                                  {"disgust", "dis"}};
  TempDir d;
  std::vector<nlohmann::json> lines;
  int conflict = 0;
  for (auto j : CorpusLines("test.jsonl", 35)) {
    ASSERT_TRUE(j.contains("text_label")) << j.dump();
    conflict += j.at("label") != j.at("text_label");
    j["label"] = raw.at(j.at("label").get<std::string>());
    j["text_label"] = raw.at(j.at("text_label").get<std::string>());
    j.erase("conflict");  // derived from the two labels
    lines.push_back(j);
  }
  ASSERT_GT(conflict, 0);
  ASSERT_LT(conflict, static_cast<int>(lines.size()));
  WriteFile(d / "iemocap_style.jsonl", Lines(lines));
  const auto r = RunFas({"eval", "--run", SmallRun(), "--manifest", d / "iemocap_style.jsonl", "--name", "mapped",
                         "--label-map", "iemocap"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const auto results = nlohmann::json::parse(ReadFile(SmallRun() + "/eval/mapped/results.json"));
  EXPECT_EQ(results.at("conflict").at("n"), conflict);
  EXPECT_EQ(results.at("conflict").at("semantic_bias_n"), conflict);
  EXPECT_EQ(results.at("congruent").at("n"), static_cast<int>(lines.size()) - conflict);
  for (const auto& p : JsonLines(SmallRun() + "/eval/mapped/predictions.jsonl")) {
    EXPECT_EQ(p.at("conflict").get<bool>(), p.at("label") != p.at("text_label")) << p.dump();
  }
}

// An unlabelled utterance: training refuses it up front, naming the manifest and the line; evaluation predicts
// it and does not score it (a manifest without any label: predictions only, no results.json).
TEST(EvalCli, UnlabelledUtterances) {
  TempDir d;
  auto lines = CorpusLines("train.jsonl", 6);
  lines[2].erase("label");
  WriteFile(d / "train.jsonl", Lines(lines));
  auto r = RunFas({"train", "--config", fas::testing::SourceDir() + "/configs/models/acoustic_only.yaml", "--set",
                   "data.root=" + d.path(), "--set", "data.dev=train.jsonl", "--set", "eval=[]", "--set",
                   "train.max_steps=2", "--run-dir", d / "run", "--threads", "2"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("error: " + (d / "train.jsonl") + ":3: "), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("label"), std::string::npos) << r.err;
  EXPECT_FALSE(fs::exists(d / "run/metrics.jsonl"));

  r = RunFas({"eval", "--run", SmallRun(), "--manifest", d / "train.jsonl", "--name", "partly"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const auto partly = nlohmann::json::parse(ReadFile(SmallRun() + "/eval/partly/results.json"));
  EXPECT_EQ(partly.at("n"), lines.size() - 1);
  EXPECT_EQ(partly.at("unlabelled"), 1);
  EXPECT_EQ(JsonLines(SmallRun() + "/eval/partly/predictions.jsonl").size(), lines.size());

  for (auto& j : lines) j.erase("label");
  WriteFile(d / "none.jsonl", Lines(lines));
  r = RunFas({"eval", "--run", SmallRun(), "--manifest", d / "none.jsonl", "--name", "none"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("no labelled utterance"), std::string::npos) << r.out;
  EXPECT_EQ(JsonLines(SmallRun() + "/eval/none/predictions.jsonl").size(), lines.size());
  EXPECT_FALSE(fs::exists(SmallRun() + "/eval/none/results.json"));
}

// A run keeps the class names it was trained with (run.json, in the run folder and every checkpoint): editing
// the labels file afterwards does not relabel what `fas eval` reports, it is warned about. `fas eval` takes the
// run's own data.label_map unless --label-map says otherwise ("none": no map).
TEST(EvalCli, ClassNamesAndLabelMapComeFromTheRun) {
  TempDir d;
  const std::string labels = d / "labels.yaml";
  WriteFile(labels, "name: mine\nlabels: [neutral, happy, sad, angry, surprise, fear, disgust]\n");
  const std::map<std::string, std::string> raw = {{"neutral", "neu"}, {"happy", "hap"}, {"sad", "sad"},
                                                  {"angry", "ang"}, {"surprise", "sur"}, {"fear", "fea"},
                                                  {"disgust", "dis"}};
  std::vector<nlohmann::json> lines;
  for (auto j : CorpusLines("train.jsonl", 8)) {
    j["label"] = raw.at(j.at("label").get<std::string>());
    j.erase("text_label");
    j.erase("conflict");
    lines.push_back(j);
  }
  WriteFile(d / "train.jsonl", Lines(lines));
  const std::string run = d / "run";
  auto r = RunFas({"train", "--config", fas::testing::SourceDir() + "/configs/models/acoustic_only.yaml", "--set",
                   "data.root=" + d.path(), "--set", "data.train=train.jsonl", "--set", "data.dev=train.jsonl",
                   "--set", "data.labels=" + labels, "--set", "data.label_map=iemocap", "--set", "eval=[]", "--set",
                   "data.batch_size=4", "--set", "train.max_steps=2", "--set", "model.fusion.d_model=32", "--set",
                   "model.acoustic.encoder.hidden_size=32", "--set", "model.acoustic.encoder.intermediate_size=64",
                   "--run-dir", run, "--threads", "2"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  for (const std::string& dir : {run, run + "/checkpoints/best", run + "/checkpoints/last"}) {
    const auto info = nlohmann::json::parse(ReadFile(dir + "/run.json"));
    EXPECT_EQ(info.at("labels").at(1), "happy") << dir;
    EXPECT_EQ(info.at("task"), "ser") << dir;
  }
  // The manifest has IEMOCAP's spellings: the run's map applies without --label-map; "none" turns it off.
  r = RunFas({"eval", "--run", run, "--manifest", d / "train.jsonl", "--name", "before"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const auto before = JsonLines(run + "/eval/before/predictions.jsonl");
  ASSERT_EQ(before.size(), lines.size());
  r = RunFas({"eval", "--run", run, "--manifest", d / "train.jsonl", "--name", "raw", "--label-map", "none"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("is not in the label set"), std::string::npos) << r.err;

  WriteFile(labels, "name: mine\nlabels: [disgust, fear, surprise, angry, sad, happy, neutral]\n");
  r = RunFas({"eval", "--run", run, "--manifest", d / "train.jsonl", "--name", "after"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE((r.out + r.err).find("has changed since run"), std::string::npos) << r.out << r.err;
  const auto after = JsonLines(run + "/eval/after/predictions.jsonl");
  ASSERT_EQ(after.size(), before.size());
  for (size_t i = 0; i < after.size(); ++i) {
    EXPECT_EQ(after[i].at("pred"), before[i].at("pred")) << after[i].dump();
    EXPECT_EQ(after[i].at("label"), before[i].at("label")) << after[i].dump();
  }
}

// --skip-bad, as README and docs/data.md document it, on every command that reads a manifest: each leaves the bad
// lines (and unreadable audio, where it reads audio) out, and without the flag the same input is one error line.
TEST(SkipBadCli, EveryCommandThatReadsAManifestTakesIt) {
  BadInput bad;
  const auto good = CorpusLines("test.jsonl", 2);
  WriteFile(bad.dir / "m.jsonl", Lines(good, {bad.corrupt_line, bad.not_json_line}));
  WriteFile(bad.dir / "lines.jsonl", Lines(CorpusLines("train.jsonl", 12), {bad.not_json_line}));
  // Unreadable audio too, for the command that decodes it (extract fills the feature cache).
  WriteFile(bad.dir / "audio.jsonl", Lines(CorpusLines("train.jsonl", 4), {bad.corrupt_line, bad.not_json_line}));
  const std::string m = bad.dir / "m.jsonl";

  // fas train: SmallRun() trains with it; fas eval takes it as well.
  ASSERT_FALSE(SmallRun().empty());
  EXPECT_NE(ReadFile(SmallRun() + "/config.yaml").find("skip_bad: true"), std::string::npos);
  auto r = RunFas({"eval", "--run", SmallRun(), "--manifest", m, "--name", "flag", "--skip-bad"});
  EXPECT_EQ(r.exit_code, 0) << r.err;

  const std::vector<std::vector<std::string>> commands = {
      {"transcribe", "--manifest", m, "--out", bad.dir / "out.jsonl", "--no-cache"},
      {"tokenizer", "train", "--manifest", bad.dir / "lines.jsonl", "--vocab-size", "40", "--out", bad.dir / "spm"},
      {"extract", "--config", fas::testing::SourceDir() + "/configs/models/acoustic_only.yaml", "--set",
       "data.root=" + bad.dir.path(), "--set", "data.train=audio.jsonl", "--set", "data.dev=audio.jsonl", "--set",
       "eval=[]", "--set", "model.acoustic.encoder.freeze=all", "--set", "data.cache_dir=" + (bad.dir / "cache")},
  };
  for (auto args : commands) {
    SCOPED_TRACE(args[0]);
    r = RunFas(args);
    EXPECT_EQ(r.exit_code, 1) << r.err;
    EXPECT_NE(r.err.find("--skip-bad"), std::string::npos) << r.err;
    args.push_back("--skip-bad");
    r = RunFas(args);
    EXPECT_EQ(r.exit_code, 0) << r.err;
  }
  EXPECT_NE((r.out + r.err).find("corrupt"), std::string::npos) << r.out;  // extract (the last) names the file
  EXPECT_EQ(JsonLines(bad.dir / "out.jsonl").size(), good.size());
  EXPECT_EQ(JsonLines(bad.dir / "out.skipped.jsonl").size(), 2u);

  // fas reproduce: a corpus with an audio file gone is reported before training; with the flag every run skips it.
  const std::string root = bad.dir / "corpus";
  fs::create_directories(root);
  for (const char* m : {"train.jsonl", "dev.jsonl", "test.jsonl", "conflict.jsonl"}) {
    auto lines = CorpusLines(m, 4);
    lines[0]["audio"] = root + "/gone.wav";
    WriteFile(root + "/" + m, Lines(lines));
  }
  const std::vector<std::string> check = {"reproduce", fas::testing::SourceDir() + "/configs/suites/tiny.yaml",
                                          "--set", "data.root=" + root, "--runs-dir", bad.dir / "runs", "--check"};
  r = RunFas(check);
  EXPECT_EQ(r.exit_code, 1) << r.out;
  EXPECT_NE(r.err.find("missing"), std::string::npos) << r.err;
  auto with_flag = check;
  with_flag.push_back("--skip-bad");
  r = RunFas(with_flag);
  EXPECT_EQ(r.exit_code, 0) << r.err;
}

}  // namespace

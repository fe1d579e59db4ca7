// Data-parallel training through the real binary on loopback: `fas train --nproc 2` ends with the weights of a
// one-process run with the same global batch and seed; a killed worker ends the run with an error, and a stuck
// rank makes the others fail after train.distributed_timeout instead of hanging.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <map>
#include <optional>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <thread>

#include "support/test_support.h"

namespace fs = std::filesystem;
using fas::testing::ReadFile;
using fas::testing::RunFas;
using fas::testing::TempDir;
using Clock = std::chrono::steady_clock;

namespace {

// The FAS model (both pathways, dropout and time masking on) for a few steps of batch 8 per rank.
std::vector<std::string> TrainArgs(const std::string& run, const std::string& cache, int max_steps) {
  return {"train",
          "--config", fas::testing::SourceDir() + "/configs/models/fas.yaml",
          "--set", "data.root=" + fas::testing::TinyCorpus(),
          "--set", "data.cache_dir=" + cache,
          "--set", "data.batch_size=8",
          "--set", "data.num_workers=0",
          "--set", "train.max_steps=" + std::to_string(max_steps),
          "--set", "train.eval_every=3",
          "--set", "train.warmup=2",
          "--set", "train.distributed_timeout=8",
          "--run-dir", run};
}

// Every tensor of a safetensors file (F32 only: model weights), by name.
std::map<std::string, std::vector<float>> ReadWeights(const std::string& path) {
  const std::string bytes = ReadFile(path);
  uint64_t n = 0;
  std::memcpy(&n, bytes.data(), 8);
  const auto header = nlohmann::json::parse(bytes.substr(8, n));
  std::map<std::string, std::vector<float>> out;
  for (const auto& [name, info] : header.items()) {
    if (name == "__metadata__" || info.at("dtype") != "F32") continue;
    const size_t begin = info.at("data_offsets")[0].get<size_t>(), end = info.at("data_offsets")[1].get<size_t>();
    std::vector<float> v((end - begin) / sizeof(float));
    std::memcpy(v.data(), bytes.data() + 8 + n + begin, end - begin);
    out[name] = std::move(v);
  }
  return out;
}

double MaxAbsDifference(const std::string& a, const std::string& b) {
  const auto wa = ReadWeights(a), wb = ReadWeights(b);
  EXPECT_EQ(wa.size(), wb.size());
  double worst = 0;
  for (const auto& [name, va] : wa) {
    const auto it = wb.find(name);
    if (it == wb.end() || it->second.size() != va.size()) {
      ADD_FAILURE() << name << " missing or reshaped";
      continue;
    }
    for (size_t i = 0; i < va.size(); ++i) worst = std::max(worst, std::abs(double(va[i]) - double(it->second[i])));
  }
  return worst;
}

// Starts the real binary in the background with extra environment variables; stderr goes to `err_path`.
pid_t Spawn(std::vector<std::string> args, const std::vector<std::string>& env, const std::string& err_path) {
  const pid_t pid = fork();
  if (pid != 0) return pid;
  for (const auto& e : env) putenv(const_cast<char*>(e.c_str()));
  std::string bin = fas::testing::FasBinary();
  std::vector<char*> argv{bin.data()};
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  if (!freopen("/dev/null", "w", stdout) || !freopen(err_path.c_str(), "w", stderr)) _exit(126);
  execv(bin.c_str(), argv.data());
  _exit(127);
}

// Waits for `pid` at most `seconds`; returns its status, or nullopt (after killing it) when it did not end.
std::optional<int> WaitAtMost(pid_t pid, double seconds) {
  const auto deadline = Clock::now() + std::chrono::duration<double>(seconds);
  while (Clock::now() < deadline) {
    int status = 0;
    if (waitpid(pid, &status, WNOHANG) == pid) return status;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  kill(pid, SIGKILL);
  waitpid(pid, nullptr, 0);
  return std::nullopt;
}

bool WaitForFile(const std::string& path, double seconds) {
  const auto deadline = Clock::now() + std::chrono::duration<double>(seconds);
  while (Clock::now() < deadline) {
    if (fs::exists(path) && fs::file_size(path) > 0) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  return false;
}

// Processes a failed assertion would otherwise leave running (with their workers).
struct KillOnExit {
  std::vector<pid_t> pids;
  ~KillOnExit() {
    for (pid_t p : pids) {
      for (pid_t c : std::vector<pid_t>(Children(p))) kill(c, SIGKILL);
      if (kill(p, SIGKILL) == 0) waitpid(p, nullptr, 0);
    }
  }
  static std::vector<pid_t> Children(pid_t pid) {
    std::ifstream in("/proc/" + std::to_string(pid) + "/task/" + std::to_string(pid) + "/children");
    std::vector<pid_t> out;
    for (pid_t p; in >> p;) out.push_back(p);
    return out;
  }
};

int CountOf(const std::string& text, const std::string& what) {
  int n = 0;
  for (size_t at = text.find(what); at != std::string::npos; at = text.find(what, at + what.size())) ++n;
  return n;
}

std::vector<pid_t> Children(pid_t pid) { return KillOnExit::Children(pid); }

TEST(DistributedCli, TwoProcessesEqualOneWithTheSameGlobalBatch) {
  ASSERT_TRUE(fs::exists(fas::testing::TinyCorpus() + "/train.jsonl")) << "tiny corpus fixture missing: " << fas::testing::TinyCorpus();
  TempDir d;
  // One process: 2 micro-batches of 8 a step. Two processes: 8 each, no accumulation. Global batch 16 in both.
  auto single = TrainArgs(d / "single", d / "cache", 6);
  single.insert(single.end(), {"--set", "train.accumulation=2", "--threads", "1"});
  auto r = RunFas(single);
  ASSERT_EQ(r.exit_code, 0) << r.err;

  auto two = TrainArgs(d / "two", d / "cache", 6);
  two.insert(two.end(), {"--nproc", "2"});
  r = RunFas(two);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.err.find("global batch 16 = 8 a rank x 2 rank(s) x 1 accumulation"), std::string::npos) << r.err;
  EXPECT_EQ(CountOf(r.out, "trained 6 steps"), 1) << "only rank 0 reports: " << r.out;

  const double diff = MaxAbsDifference(d / "single/checkpoints/last/model.safetensors",
                                       d / "two/checkpoints/last/model.safetensors");
  EXPECT_LE(diff, 1e-5);
  // The comparison can tell runs apart: a run with half the global batch ends elsewhere.
  auto half = TrainArgs(d / "half", d / "cache", 6);
  half.insert(half.end(), {"--threads", "1"});
  r = RunFas(half);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_GT(MaxAbsDifference(d / "single/checkpoints/last/model.safetensors",
                             d / "half/checkpoints/last/model.safetensors"),
            1e-4);

  // Only rank 0 wrote: one metrics stream (one line a logged step), results of both evaluations.
  const std::string metrics = ReadFile(d / "two/metrics.jsonl");
  std::istringstream lines(metrics);
  int evals = 0;
  for (std::string line; std::getline(lines, line);) {
    if (nlohmann::json::parse(line).value("event", "") == "eval") ++evals;
  }
  EXPECT_EQ(evals, 2);
  EXPECT_TRUE(fs::exists(d / "two/eval/conflict/results.json"));
  EXPECT_EQ(CountOf(ReadFile(d / "two/eval/test/predictions.jsonl"), "\n"),
            CountOf(ReadFile(fas::testing::TinyCorpus() + "/test.jsonl"), "\n"))
      << "every test utterance predicted once, whichever rank computed it";
}

TEST(DistributedCli, AKilledWorkerEndsTheRunWithAnError) {
  TempDir d;
  const std::string err = d / "launcher.stderr";
  auto args = TrainArgs(d / "run", d / "cache", 2000);
  args.insert(args.end(), {"--nproc", "2"});
  const pid_t launcher = Spawn(args, {}, err);
  const KillOnExit guard{{launcher}};
  ASSERT_TRUE(WaitForFile(d / "run/metrics.jsonl", 120)) << ReadFile(err);
  const std::vector<pid_t> workers = Children(launcher);
  ASSERT_EQ(workers.size(), 2u) << ReadFile(err);
  kill(workers[1], SIGKILL);
  const auto killed_at = Clock::now();
  const auto status = WaitAtMost(launcher, 30);
  ASSERT_TRUE(status.has_value()) << "the run hung after a worker was killed";
  const double seconds = std::chrono::duration<double>(Clock::now() - killed_at).count();
  EXPECT_LT(seconds, 8 + 5) << "within train.distributed_timeout (8 s)";
  ASSERT_TRUE(WIFEXITED(*status));
  EXPECT_EQ(WEXITSTATUS(*status), 1);
  const std::string text = ReadFile(err);
  EXPECT_NE(text.find("error: distributed training failed: worker rank 1"), std::string::npos) << text;
  EXPECT_NE(text.find("killed by signal 9"), std::string::npos) << text;
  EXPECT_TRUE(Children(launcher).empty());
}

// Ranks started as torchrun would (environment only): a rank that stops responding makes the other fail after
// the timeout with a message naming the rank and the timeout.
TEST(DistributedCli, AStuckRankTimesOutInsteadOfHanging) {
  TempDir d;
  const std::string port = std::to_string(29000 + getpid() % 2000);
  const std::vector<std::string> common = {"WORLD_SIZE=2", "MASTER_ADDR=127.0.0.1", "MASTER_PORT=" + port};
  auto env0 = common, env1 = common;
  env0.insert(env0.end(), {"RANK=0", "LOCAL_RANK=0"});
  env1.insert(env1.end(), {"RANK=1", "LOCAL_RANK=1"});
  auto args = TrainArgs(d / "run", d / "cache", 2000);
  args.insert(args.end(), {"--threads", "1"});
  const pid_t rank0 = Spawn(args, env0, d / "rank0.stderr");
  const pid_t rank1 = Spawn(args, env1, d / "rank1.stderr");
  const KillOnExit guard{{rank0, rank1}};
  ASSERT_TRUE(WaitForFile(d / "run/metrics.jsonl", 120)) << ReadFile(d / "rank0.stderr");
  kill(rank1, SIGSTOP);
  const auto stopped_at = Clock::now();
  const auto status = WaitAtMost(rank0, 40);
  kill(rank1, SIGKILL);
  waitpid(rank1, nullptr, 0);
  ASSERT_TRUE(status.has_value()) << "rank 0 hung waiting for a stuck rank";
  const double seconds = std::chrono::duration<double>(Clock::now() - stopped_at).count();
  EXPECT_GE(seconds, 8 - 1) << "failed before the timeout";
  EXPECT_LT(seconds, 8 + 10);
  ASSERT_TRUE(WIFEXITED(*status));
  EXPECT_EQ(WEXITSTATUS(*status), 1);
  const std::string text = ReadFile(d / "rank0.stderr");
  EXPECT_NE(text.find("failed on rank 0 of 2"), std::string::npos) << text;
  EXPECT_NE(text.find("8 s"), std::string::npos) << text;
  // The checkpoint rank 0 wrote before still loads: the run can be resumed once the group is whole again.
  EXPECT_TRUE(fs::exists(d / "run/checkpoints/last/model.safetensors"));
}

}  // namespace

// Fault tests through the real `fas` binary on the tiny synthetic corpus: SIGKILL during training and during
// checkpoint writing, a read-only run directory and a full disk, corrupt checkpoints, NaN in audio and in cached
// features, and inputs that ask for absurd sizes. Each asserts what README's "Reliability" section promises.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <limits>
#include <map>
#include <set>
#include <nlohmann/json.hpp>
#include <sstream>

#include "fas/io/feature_shards.h"
#include "fas/io/safetensors.h"
#include "support/test_support.h"

namespace fs = std::filesystem;
using fas::testing::JsonLines;
using fas::testing::ReadFile;
using fas::testing::RunFas;
using fas::testing::RunProgram;
using fas::testing::TempDir;
using fas::testing::WriteFile;

namespace {

constexpr int kSteps = 8, kEvalEvery = 2;

// One thread: the trainer's claim of bitwise-equal resumed runs holds there.
std::vector<std::string> TrainArgs(const std::string& run) {
  return {"train",
          "--config", fas::testing::SourceDir() + "/configs/models/fas.yaml",
          "--set", "data.root=" + fas::testing::TinyCorpus(),
          "--set", "data.batch_size=8",
          "--set", "train.max_steps=" + std::to_string(kSteps),
          "--set", "train.eval_every=" + std::to_string(kEvalEvery),
          "--set", "train.log_every=1",
          "--set", "train.warmup=2",
          "--run-dir", run,
          "--threads", "1"};
}

std::vector<std::string> ResumeArgs(const std::string& run) {
  return {"train", "--run-dir", run, "--resume", "--threads", "1"};
}

// The lines of stderr that start with "error:".
std::vector<std::string> ErrorLines(const std::string& err) {
  std::vector<std::string> out;
  std::istringstream in(err);
  for (std::string line; std::getline(in, line);) {
    if (line.rfind("error:", 0) == 0) out.push_back(line);
  }
  return out;
}

// Exit 1 with exactly one `error:` line that contains every fragment.
void ExpectCleanError(const fas::testing::CommandResult& r, const std::vector<std::string>& fragments) {
  EXPECT_EQ(r.exit_code, 1) << r.err;
  const auto lines = ErrorLines(r.err);
  ASSERT_EQ(lines.size(), 1u) << r.err;
  for (const auto& f : fragments) EXPECT_NE(lines[0].find(f), std::string::npos) << "missing '" << f << "' in " << lines[0];
}

// `fas` started in the background with stdout discarded and stderr in `err_path`; `in_child` runs between fork and
// exec (resource limits).
pid_t Spawn(const std::vector<std::string>& args, const std::string& err_path,
            const std::function<void()>& in_child = {}) {
  std::vector<std::string> argv{fas::testing::FasBinary()};
  argv.insert(argv.end(), args.begin(), args.end());
  std::vector<char*> cargs;
  for (auto& a : argv) cargs.push_back(a.data());
  cargs.push_back(nullptr);
  const pid_t pid = fork();
  if (pid == 0) {
    const int out = open("/dev/null", O_WRONLY);
    const int err = open(err_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    dup2(out, STDOUT_FILENO);
    dup2(err, STDERR_FILENO);
    if (in_child) in_child();
    execv(cargs[0], cargs.data());
    _exit(127);
  }
  return pid;
}

int WaitStatus(pid_t pid) {
  int status = 0;
  waitpid(pid, &status, 0);
  return status;
}

// Every tensor of two safetensors files, compared bitwise.
void ExpectSameWeights(const std::string& a, const std::string& b) {
  const fas::SafeTensorsFile fa(a), fb(b);
  ASSERT_EQ(fa.tensors().size(), fb.tensors().size());
  for (const auto& t : fa.tensors()) {
    ASSERT_TRUE(fb.Contains(t.name)) << t.name;
    EXPECT_TRUE(torch::equal(fa.Get(t.name), fb.Get(t.name))) << "tensor '" << t.name << "' differs";
  }
}

// A checkpoint folder is loadable: its state parses, its weights validate and read, its optimiser file is there.
// Returns its step.
int64_t ExpectLoadableCheckpoint(const std::string& dir) {
  EXPECT_TRUE(fs::is_directory(dir)) << dir;
  const auto state = nlohmann::json::parse(ReadFile(dir + "/trainer_state.json"));
  const fas::SafeTensorsFile weights(dir + "/model.safetensors");
  for (const auto& t : weights.tensors()) (void)weights.Get(t.name);
  EXPECT_GT(fs::file_size(dir + "/optimizer.pt"), 0u);
  EXPECT_FALSE(ReadFile(dir + "/config.yaml").empty());
  return state.at("step").get<int64_t>();
}

// The folder `checkpoints/last` stands for (the fallback swap may leave it as last.old).
std::string LastCheckpoint(const std::string& run) {
  if (fs::is_directory(run + "/checkpoints/last")) return run + "/checkpoints/last";
  return run + "/checkpoints/last.old";
}

// Every file under `root` with its size and link count, for failure messages.
std::string Listing(const std::string& root) {
  std::string out;
  std::error_code ec;
  for (const auto& e : fs::recursive_directory_iterator(root, ec)) {
    out += e.path().string();
    if (e.is_regular_file()) out += " " + std::to_string(e.file_size()) + " bytes, " + std::to_string(e.hard_link_count()) + " links";
    out += "\n";
  }
  return out;
}

// The uninterrupted run every resumed run is compared with; trained once per test binary.
const std::string& ReferenceRun() {
  static TempDir dir;
  static std::string run;
  if (run.empty()) {
    const auto r = RunFas(TrainArgs(dir / "run"));
    if (r.exit_code != 0) throw std::runtime_error("reference run failed: " + r.err);
    run = dir / "run";
  }
  return run;
}

std::map<int64_t, double> StepLosses(const std::string& run) {
  std::map<int64_t, double> out;
  for (const auto& j : JsonLines(run + "/metrics.jsonl")) {
    if (!j.contains("event")) out[j.at("step").get<int64_t>()] = j.at("loss").get<double>();
  }
  return out;
}

void ExpectSameRunAsReference(const std::string& run) {
  ExpectSameWeights(ReferenceRun() + "/checkpoints/last/model.safetensors", run + "/checkpoints/last/model.safetensors");
  ExpectSameWeights(ReferenceRun() + "/checkpoints/best/model.safetensors", run + "/checkpoints/best/model.safetensors");
  // The metrics log holds each step once, with the uninterrupted run's losses.
  EXPECT_EQ(StepLosses(run), StepLosses(ReferenceRun()));
  auto results = nlohmann::json::parse(ReadFile(run + "/eval/test/results.json"));
  auto expected = nlohmann::json::parse(ReadFile(ReferenceRun() + "/eval/test/results.json"));
  results.erase("run");
  expected.erase("run");
  EXPECT_EQ(results, expected);
}

void CopyRun(const std::string& from, const std::string& to) {
  fs::copy(from, to, fs::copy_options::recursive);
}

// A float WAV (mono, 16 kHz, IEEE float 32-bit) of the given samples.
void WriteFloatWav(const std::string& path, const std::vector<float>& samples) {
  std::ofstream out(path, std::ios::binary);
  auto u32 = [&](uint32_t v) { out.write(reinterpret_cast<const char*>(&v), 4); };
  auto u16 = [&](uint16_t v) { out.write(reinterpret_cast<const char*>(&v), 2); };
  const uint32_t bytes = static_cast<uint32_t>(samples.size() * 4);
  out.write("RIFF", 4);
  u32(36 + bytes);
  out.write("WAVEfmt ", 8);
  u32(16);
  u16(3);  // IEEE float
  u16(1);
  u32(16000);
  u32(16000 * 4);
  u16(4);
  u16(32);
  out.write("data", 4);
  u32(bytes);
  out.write(reinterpret_cast<const char*>(samples.data()), static_cast<std::streamsize>(bytes));
}

// Whether this sandbox lets an unprivileged user+mount namespace mount file systems (for tmpfs and read-only binds).
bool NamespacesAvailable() {
  return RunProgram({"unshare", "-Urm", "sh", "-c", "mount -t tmpfs -o size=64k tmpfs /mnt 2>/dev/null || "
                     "mount -t tmpfs -o size=64k tmpfs /tmp"}).exit_code == 0;
}

std::string ShellQuote(const std::string& s) {
  std::string out = "'";
  for (char c : s) out += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return out + "'";
}

std::string ShellLine(const std::vector<std::string>& args) {
  std::string out = ShellQuote(fas::testing::FasBinary());
  for (const auto& a : args) out += " " + ShellQuote(a);
  return out;
}

// Files under `root` whose own name or whose folder's name starts with '.': leftovers of interrupted writes.
std::vector<std::string> HiddenLeftovers(const std::string& root) {
  std::vector<std::string> out;
  if (!fs::exists(root)) return out;
  for (const auto& e : fs::recursive_directory_iterator(root)) {
    if (e.path().filename().string().rfind('.', 0) == 0) out.push_back(e.path().string());
  }
  return out;
}

// (a) SIGKILL mid-training (no handler runs), then --resume: the run completes with bitwise the weights, the
// per-step losses and the test metrics of an uninterrupted run.
TEST(Faults, SigkillDuringTrainingThenResumeEqualsUninterruptedRun) {
  ASSERT_TRUE(fs::exists(fas::testing::TinyCorpus() + "/train.jsonl")) << "tiny corpus fixture missing: " << fas::testing::TinyCorpus();
  ReferenceRun();
  TempDir d;
  const std::string run = d / "run";
  const pid_t pid = Spawn(TrainArgs(run), d / "err");
  // After the first checkpoint (step 2), once step 3 has been logged: work past the checkpoint is lost.
  bool past_checkpoint = false;
  for (int i = 0; i < 3000 && !past_checkpoint; ++i) {
    const auto losses = StepLosses(run);
    past_checkpoint = fs::exists(run + "/checkpoints/last/trainer_state.json") && !losses.empty() &&
                      losses.rbegin()->first > kEvalEvery;
    if (!past_checkpoint) usleep(20000);
  }
  ASSERT_TRUE(past_checkpoint) << ReadFile(d / "err");
  kill(pid, SIGKILL);
  const int status = WaitStatus(pid);
  ASSERT_TRUE(WIFSIGNALED(status));
  const int64_t saved = ExpectLoadableCheckpoint(LastCheckpoint(run));
  ASSERT_LT(saved, kSteps) << "the run finished before it could be killed";

  const auto r = RunFas(ResumeArgs(run));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  ExpectSameRunAsReference(run);
}

// (b) SIGKILL while a checkpoint is being written: each kill lands after the checkpoint's temporary folder appears
// (the write under way), at delays from 0 to 8 ms. After every kill `checkpoints/last` is a complete checkpoint
// (the previous or the new one), --resume carries on from it, and the run still ends equal to an uninterrupted one.
TEST(Faults, SigkillWhileWritingCheckpointsKeepsALoadableOne) {
  ReferenceRun();
  TempDir d;
  const std::string run = d / "run";
  const std::vector<int> delays_us = {0, 500, 2000, 8000};
  int64_t last_step = 0;
  int mid_write = 0;  // kills that left a temporary folder behind: the write was under way
  bool finished = false;
  for (size_t k = 0; k < delays_us.size(); ++k) {
    const std::string err = d / ("err" + std::to_string(k));
    const pid_t pid = Spawn(k == 0 ? TrainArgs(run) : ResumeArgs(run), err);
    const std::string dir = run + "/checkpoints";
    bool seen = false;
    int status = 0;
    bool exited = false;
    // Only a write that replaces a committed checkpoint is a test of keeping the previous one.
    for (int i = 0; i < 200000 && !seen && !exited; ++i) {
      std::error_code ec;
      if (!fs::exists(dir + "/last") && !fs::exists(dir + "/last.old")) {
        exited = waitpid(pid, &status, WNOHANG) == pid;
        usleep(1000);
        continue;
      }
      for (const auto& e : fs::directory_iterator(dir, ec)) {
        const std::string name = e.path().filename().string();
        if (name.find(".tmp-" + std::to_string(pid)) != std::string::npos) seen = true;
      }
      if (!seen) {
        exited = waitpid(pid, &status, WNOHANG) == pid;
        usleep(200);
      }
    }
    if (exited) {
      // Every earlier kill landed just after a commit, so the run got to its end first: that is no failure.
      ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << ReadFile(err);
      finished = true;
      break;
    }
    ASSERT_TRUE(seen) << ReadFile(err);
    usleep(static_cast<useconds_t>(delays_us[k]));
    kill(pid, SIGKILL);
    status = WaitStatus(pid);
    ASSERT_TRUE(WIFSIGNALED(status)) << ReadFile(err);
    if (!HiddenLeftovers(dir).empty()) ++mid_write;
    ASSERT_TRUE(fs::exists(dir + "/last") || fs::exists(dir + "/last.old")) << Listing(dir);
    const int64_t step = ExpectLoadableCheckpoint(LastCheckpoint(run));
    EXPECT_EQ(step % kEvalEvery, 0) << "checkpoints are written at evaluations";
    EXPECT_GE(step, last_step) << "an older checkpoint came back";
    last_step = step;
    if (fs::exists(dir + "/best")) ExpectLoadableCheckpoint(dir + "/best");
  }
  EXPECT_GT(mid_write, 0) << "no kill landed inside a checkpoint write";
  if (!finished) {
    const auto r = RunFas(ResumeArgs(run));
    ASSERT_EQ(r.exit_code, 0) << r.err;
  }
  EXPECT_TRUE(HiddenLeftovers(run + "/checkpoints").empty()) << Listing(run + "/checkpoints");
  ExpectSameRunAsReference(run);
}

// (c) A write that fails with EFBIG (RLIMIT_FSIZE, SIGXFSZ ignored: what a quota or a full disk does to write())
// while the first checkpoint is written: one error line naming the file, exit 1, no checkpoint and no partial file.
TEST(Faults, FileSizeLimitDuringCheckpointIsACleanError) {
  TempDir d;
  const std::string run = d / "run";
  const pid_t pid = Spawn(TrainArgs(run), d / "err", [] {
    signal(SIGXFSZ, SIG_IGN);
    const rlimit limit{1 << 20, 1 << 20};  // the tokenizer and logs fit, the weights (several MB) do not
    setrlimit(RLIMIT_FSIZE, &limit);
  });
  const int status = WaitStatus(pid);
  const std::string err = ReadFile(d / "err");
  ASSERT_TRUE(WIFEXITED(status)) << err;
  EXPECT_EQ(WEXITSTATUS(status), 1) << err;
  const auto lines = ErrorLines(err);
  ASSERT_EQ(lines.size(), 1u) << err;
  EXPECT_NE(lines[0].find("File too large"), std::string::npos) << lines[0];
  EXPECT_NE(lines[0].find(run), std::string::npos) << "the error names the file: " << lines[0];
  EXPECT_FALSE(fs::exists(run + "/checkpoints/last")) << "a checkpoint was committed without its weights";
  EXPECT_TRUE(HiddenLeftovers(run).empty()) << HiddenLeftovers(run)[0];
}

// (c) A really full disk: the run directory on a 2 MB tmpfs (in a user+mount namespace).
TEST(Faults, FullDiskIsACleanError) {
  if (!NamespacesAvailable()) GTEST_SKIP() << "this sandbox cannot mount a tmpfs in a user namespace";
  TempDir d;
  const std::string mnt = d / "small";
  fs::create_directories(mnt);
  const std::string script = "mount -t tmpfs -o size=2m tmpfs " + ShellQuote(mnt) + " || exit 99; " +
                             ShellLine(TrainArgs(mnt + "/run")) + " 2>" + ShellQuote(d / "err") +
                             "; rc=$?; df -k " + ShellQuote(mnt) + " >" + ShellQuote(d / "df") + "; find " +
                             ShellQuote(mnt) + " >" + ShellQuote(d / "listing") + "; exit $rc";
  const auto r = RunProgram({"unshare", "-Urm", "sh", "-c", script});
  const std::string err = ReadFile(d / "err");
  ASSERT_NE(r.exit_code, 99) << r.err;
  EXPECT_EQ(r.exit_code, 1) << err;
  const auto lines = ErrorLines(err);
  ASSERT_EQ(lines.size(), 1u) << err;
  EXPECT_NE(lines[0].find("No space left on device"), std::string::npos) << lines[0];
  const std::string listing = ReadFile(d / "listing");
  EXPECT_EQ(listing.find("checkpoints/last"), std::string::npos) << listing;
  EXPECT_EQ(listing.find("/."), std::string::npos) << "partial files left:\n" << listing;
}

// (c) A read-only run directory (a read-only bind mount): --resume of a finished run asked to go further fails
// with one error line before touching anything, and every file is as it was.
TEST(Faults, ReadOnlyRunDirectoryIsACleanError) {
  if (!NamespacesAvailable()) GTEST_SKIP() << "this sandbox cannot bind-mount in a user namespace";
  TempDir d;
  const std::string run = d / "run";
  CopyRun(ReferenceRun(), run);
  std::map<std::string, std::string> before;
  for (const auto& e : fs::recursive_directory_iterator(run)) {
    if (e.is_regular_file()) before[e.path().string()] = ReadFile(e.path().string());
  }
  auto args = ResumeArgs(run);
  args.insert(args.end(), {"--set", "train.max_steps=" + std::to_string(kSteps + 2)});
  const std::string script = "mount --bind " + ShellQuote(run) + " " + ShellQuote(run) + " && mount -o remount,bind,ro " +
                             ShellQuote(run) + " || exit 99; exec " + ShellLine(args);
  const auto r = RunProgram({"unshare", "-Urm", "sh", "-c", script});
  ASSERT_NE(r.exit_code, 99) << r.err;
  ExpectCleanError(r, {"Read-only file system", run});
  std::map<std::string, std::string> after;
  for (const auto& e : fs::recursive_directory_iterator(run)) {
    if (e.is_regular_file()) after[e.path().string()] = ReadFile(e.path().string());
  }
  EXPECT_EQ(after, before);

  // A new run whose run directory would be created inside a read-only folder.
  const std::string ro = d / "ro";
  fs::create_directories(ro);
  const std::string fresh = ro + "/run";
  const std::string script2 = "mount --bind " + ShellQuote(ro) + " " + ShellQuote(ro) + " && mount -o remount,bind,ro " +
                              ShellQuote(ro) + " || exit 99; exec " + ShellLine(TrainArgs(fresh));
  const auto r2 = RunProgram({"unshare", "-Urm", "sh", "-c", script2});
  ASSERT_NE(r2.exit_code, 99) << r2.err;
  ExpectCleanError(r2, {"Read-only file system", fresh});
  EXPECT_TRUE(fs::is_empty(ro));
}

// (d) Corrupt checkpoints: a truncated model.safetensors and a garbage trainer_state.json are each one error line
// naming the file, for `fas train --resume`, `fas eval` and `fas predict`.
TEST(Faults, CorruptCheckpointIsAnErrorNamingTheFile) {
  TempDir d;
  const std::string run = d / "run";
  CopyRun(ReferenceRun(), run);
  const auto test = JsonLines(fas::testing::TinyCorpus() + "/test.jsonl");
  const std::string wav = fas::testing::TinyCorpus() + "/" + test.at(0).at("audio").get<std::string>();
  auto resume = ResumeArgs(run);
  resume.insert(resume.end(), {"--set", "train.max_steps=" + std::to_string(kSteps + 2)});

  const std::string state = run + "/checkpoints/last/trainer_state.json";
  const std::string good_state = ReadFile(state);
  WriteFile(state, "{\"format\": 1, \"step\": [garbage");
  ExpectCleanError(RunFas(resume), {state});
  WriteFile(state, good_state);

  for (const char* which : {"last", "best"}) {
    const std::string model = run + "/checkpoints/" + which + "/model.safetensors";
    fs::remove(model);  // `best` and `last` may share the file (hard links): give each its own truncated copy
    fs::copy_file(ReferenceRun() + "/checkpoints/" + which + "/model.safetensors", model);
    fs::resize_file(model, fs::file_size(model) / 2);
  }
  ExpectCleanError(RunFas(resume), {run + "/checkpoints/last/model.safetensors"});
  const std::string best = run + "/checkpoints/best/model.safetensors";
  ExpectCleanError(RunFas({"eval", "--run", run, "--manifest", fas::testing::TinyCorpus() + "/test.jsonl", "--name", "t", "--threads", "1"}),
                   {best});
  ExpectCleanError(RunFas({"predict", "--run", run, wav, "--text", "i am fine", "--threads", "1"}), {best});
  EXPECT_FALSE(fs::exists(run + "/eval/t"));
}

// Checkpoints across versions (docs/design.md, "Checkpoints across versions"): format 1, which LibTorch 1.13 builds
// wrote, resumes; a format this fas does not know is refused in one line naming the checkpoint, its format and the
// LibTorch that wrote it. The optimiser state of a real 1.13 checkpoint is tested in test_optimizer_state.
TEST(Faults, CheckpointFormatsAcrossVersions) {
  TempDir d;
  const std::string run = d / "run";
  CopyRun(ReferenceRun(), run);
  auto resume = ResumeArgs(run);
  resume.insert(resume.end(), {"--set", "train.max_steps=" + std::to_string(kSteps + 2)});
  const std::string state = run + "/checkpoints/last/trainer_state.json";
  auto j = nlohmann::json::parse(ReadFile(state));
  EXPECT_EQ(j.at("format"), 2);
  EXPECT_TRUE(j.contains("libtorch") && j.contains("fas")) << j.dump();

  auto newer = j;
  newer["format"] = 3;
  newer["libtorch"] = "2.99.0";
  fs::remove(state);  // `last` and `best` may share the file (hard links)
  WriteFile(state, newer.dump());
  ExpectCleanError(RunFas(resume), {run + "/checkpoints/last", "format 3", "LibTorch 2.99.0", "start anew"});

  auto older = j;
  older["format"] = 1;
  older.erase("libtorch");
  older.erase("fas");
  WriteFile(state, older.dump());
  const auto r = RunFas(resume);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.err.find("format 1 written with LibTorch 1.13"), std::string::npos) << r.err;
}

// (e) NaN in the audio: the data layer refuses it, naming the file (docs/data.md), in training and in prediction.
TEST(Faults, NanAudioIsRefusedNamingTheFile) {
  TempDir d;
  std::vector<float> samples(16000, 0.1f);
  samples[2000] = std::numeric_limits<float>::quiet_NaN();
  const std::string nan_wav = d / "nan.wav";
  WriteFloatWav(nan_wav, samples);

  ExpectCleanError(RunFas({"predict", "--run", ReferenceRun(), nan_wav, "--text", "i am fine", "--threads", "1"}),
                   {nan_wav, "NaN sample"});

  // A training manifest whose first utterance is that file.
  const std::string root = d / "corpus";
  fs::create_directories(root);
  fs::create_directory_symlink(fas::testing::TinyCorpus() + "/wavs", root + "/wavs");
  for (const char* m : {"dev.jsonl", "test.jsonl", "conflict.jsonl"}) fs::copy_file(fas::testing::TinyCorpus() + "/" + m, root + "/" + m);
  auto train = JsonLines(fas::testing::TinyCorpus() + "/train.jsonl");
  train[0]["audio"] = nan_wav;
  train[0].erase("duration");
  std::string text;
  for (const auto& j : train) text += j.dump() + "\n";
  WriteFile(root + "/train.jsonl", text);
  auto args = TrainArgs(d / "run");
  args[std::find(args.begin(), args.end(), "data.root=" + fas::testing::TinyCorpus()) - args.begin()] = "data.root=" + root;
  ExpectCleanError(RunFas(args), {nan_wav, "NaN sample"});
}

// A quarter of the tiny corpus (32 training, 8 dev utterances) in `d`/corpus: keeps feature extraction short.
std::string QuarterCorpus(const TempDir& d) {
  const std::string root = d / "corpus";
  fs::create_directories(root);
  fs::create_directory_symlink(fas::testing::TinyCorpus() + "/wavs", root + "/wavs");
  for (const auto& [name, n] : std::vector<std::pair<std::string, size_t>>{{"train.jsonl", 32}, {"dev.jsonl", 8}}) {
    const auto lines = JsonLines(fas::testing::TinyCorpus() + "/" + name);
    std::string text;
    for (size_t i = 0; i < n; ++i) text += lines.at(i).dump() + "\n";
    WriteFile(root + "/" + name, text);
  }
  return root;
}

// The index.jsonl of the one feature store under `cache`.
std::string StoreIndex(const std::string& cache) {
  for (const auto& e : fs::recursive_directory_iterator(cache)) {
    if (e.path().filename() == "index.jsonl") return e.path().string();
  }
  return "";
}

// (e) NaN in cached features (frozen acoustic encoder, so batches come from the feature cache): the non-finite
// guard of docs/training.md — a step whose loss is NaN is skipped with a warning and the run completes; NaN in
// every batch stops the run after train.max_nonfinite_steps steps in a row with an error that says where.
TEST(Faults, NanInCachedFeaturesTriggersTheNonFiniteGuard) {
  TempDir d;
  const std::string root = QuarterCorpus(d);
  const std::string cache = d / "cache";
  const std::vector<std::string> common = {
      "--config", fas::testing::SourceDir() + "/configs/models/acoustic_only.yaml",
      "--set", "data.root=" + root,
      "--set", "data.cache_dir=" + cache,
      "--set", "model.acoustic.encoder.freeze=all",
      "--set", "data.batch_size=8",
      // Whole utterances: with random crops training encodes its batches and never reads the cache.
      "--set", "data.max_train_seconds=0",
      "--set", "train.max_nonfinite_steps=3",
      "--set", "train.log_every=1",
      "--threads", "2"};
  // Only the training set's features: dev is train.jsonl too, and no eval sets.
  auto extract = common;
  extract.insert(extract.begin(), "extract");
  extract.insert(extract.end(), {"--set", "data.dev=train.jsonl", "--set", "eval=[]"});
  auto r = RunFas(extract);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const std::string index = StoreIndex(cache);
  ASSERT_FALSE(index.empty()) << Listing(cache);
  // Overwrites the data of the first `n` entries (-1: all) with NaN, as an encoder that gave NaN would have
  // stored them: the shard's checksum in the index is made to match.
  auto poison = [&](int n) {
    std::string lines;
    for (auto record : JsonLines(index)) {
      const std::string shard = fs::path(index).parent_path() / record.at("shard").get<std::string>();
      {
        std::fstream f(shard, std::ios::in | std::ios::out | std::ios::binary);
        const float nan = std::numeric_limits<float>::quiet_NaN();
        for (const auto& [key, e] : record.at("entries").items()) {
          if (n-- == 0) break;
          int64_t numel = 1;
          for (const auto& dim : e.at("shape")) numel *= dim.get<int64_t>();
          f.seekp(e.at("offset").get<std::streamoff>());
          for (int64_t k = 0; k < numel; ++k) f.write(reinterpret_cast<const char*>(&nan), 4);
        }
      }
      record["checksum"] = fas::Checksum64(ReadFile(shard));
      lines += record.dump() + "\n";
    }
    WriteFile(index, lines);
  };

  poison(1);
  auto train = common;
  train.insert(train.begin(), "train");
  train.insert(train.end(), {"--set", "train.max_steps=8", "--set", "train.eval_every=0", "--set", "eval=[]",
                             "--run-dir", d / "one"});
  r = RunFas(train);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.err.find("non-finite loss; step skipped (1 in a row, at most 3)"), std::string::npos) << r.err;
  int skipped_lines = 0;
  for (const auto& j : JsonLines(d / "one/metrics.jsonl")) {
    if (!j.contains("event") && j.at("loss").is_null()) ++skipped_lines;
  }
  EXPECT_GE(skipped_lines, 1);  // the skipped step's metrics line has no loss
  ExpectLoadableCheckpoint(d / "one/checkpoints/last");

  poison(-1);
  train.back() = d / "all";
  r = RunFas(train);
  ExpectCleanError(r, {"training diverged: 3 optimizer steps in a row", "at step 3"});
}

// (e) SIGKILL during `fas extract` once some shards are written, then the same command again: the store ends with
// every utterance once (no entry lost, none in two shards), each equal to an uninterrupted extraction's, and no
// leftover file; the resumed extraction reuses the finished shards and says so. Then a corrupt shard: one error
// naming it and the command that rebuilds it, and that command rebuilds just it.
TEST(Faults, SigkillDuringExtractionThenResumeLosesAndDuplicatesNothing) {
  TempDir d;
  const std::string root = QuarterCorpus(d);
  auto extract = [&](const std::string& cache) {
    return std::vector<std::string>{
        "extract", "--config", fas::testing::SourceDir() + "/configs/models/acoustic_only.yaml",
        "--set", "data.root=" + root, "--set", "data.cache_dir=" + cache,
        "--set", "model.acoustic.encoder.freeze=all", "--set", "data.dev=train.jsonl", "--set", "eval=[]",
        // Shards of a few utterances, extraction batches of a few seconds: many shards to be killed between.
        "--set", "data.cache_shard_mb=0.1", "--set", "data.max_batch_seconds=6", "--threads", "1"};
  };
  auto r = RunFas(extract(d / "reference"));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const std::string reference_index = StoreIndex(d / "reference");
  const auto reference_shards = JsonLines(reference_index);
  ASSERT_GE(reference_shards.size(), 4u) << "too few shards to kill the extraction between them";

  const std::string cache = d / "cache";
  const pid_t pid = Spawn(extract(cache), d / "err");
  bool some_done = false;
  for (int i = 0; i < 6000 && !some_done; ++i) {
    const std::string index = fs::exists(cache) ? StoreIndex(cache) : "";
    some_done = !index.empty() && JsonLines(index).size() >= 2;
    if (!some_done) usleep(10000);
  }
  ASSERT_TRUE(some_done) << ReadFile(d / "err");
  kill(pid, SIGKILL);
  ASSERT_TRUE(WIFSIGNALED(WaitStatus(pid)));
  const std::string index = StoreIndex(cache);
  const size_t finished = JsonLines(index).size();
  ASSERT_LT(finished, reference_shards.size()) << "the extraction finished before it could be killed";

  r = RunFas(extract(cache));
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.err.find("entries of train.jsonl reused"), std::string::npos) << r.err;
  std::map<std::string, std::string> shard_of;  // entry key -> shard
  std::map<std::string, size_t> shard_files;   // shard -> its entries
  for (const auto& record : JsonLines(index)) {
    shard_files[record.at("shard").get<std::string>()] = record.at("entries").size();
    for (const auto& [key, e] : record.at("entries").items()) {
      EXPECT_TRUE(shard_of.emplace(key, record.at("shard").get<std::string>()).second) << key << " stored twice";
    }
  }
  std::map<std::string, std::string> reference_shard_of;
  for (const auto& record : reference_shards) {
    for (const auto& [key, e] : record.at("entries").items()) reference_shard_of[key] = record.at("shard");
  }
  ASSERT_EQ(shard_of.size(), 32u);
  const std::string dir = fs::path(index).parent_path(), reference_dir = fs::path(reference_index).parent_path();
  for (const auto& [key, shard] : shard_of) {
    ASSERT_EQ(reference_shard_of.count(key), 1u) << key;
    const torch::Tensor got = fas::SafeTensorsFile(dir + "/" + shard).Get(key);
    const torch::Tensor want = fas::SafeTensorsFile(reference_dir + "/" + reference_shard_of[key]).Get(key);
    ASSERT_EQ(got.sizes(), want.sizes()) << key;
    EXPECT_LE((got - want).abs().max().item<double>(), 1e-5) << key;
  }
  for (const auto& e : fs::directory_iterator(dir)) {
    const std::string name = e.path().filename().string();
    EXPECT_TRUE(shard_files.count(name) || name == "index.jsonl" || name == "store.json" || name == "lock")
        << "leftover " << name;
  }

  // A flipped byte in one shard: training's first read of it is one error naming it and the rebuild command.
  const std::string broken = dir + "/" + shard_files.begin()->first;
  std::string bytes = ReadFile(broken);
  bytes[bytes.size() / 2] ^= 0x40;
  WriteFile(broken, bytes);
  auto train = extract(cache);
  train[0] = "train";
  train.insert(train.end(), {"--set", "data.max_train_seconds=0", "--set", "train.max_steps=1",
                             "--set", "train.eval_every=0", "--run-dir", d / "run"});
  ExpectCleanError(RunFas(train), {"feature store shard " + broken + " is corrupt",
                                   "fas extract --config <this run's config> --rebuild-shard " + broken});
  auto rebuild = extract(cache);
  rebuild.insert(rebuild.end(), {"--rebuild-shard", broken});
  r = RunFas(rebuild);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("computed " + std::to_string(shard_files.begin()->second) + " feature entries"),
            std::string::npos) << r.out;
  EXPECT_EQ(fas::ShardStore(dir, "").size(), 32);
}

// (f) Sizes a file asks for are checked before anything is allocated: a safetensors header declaring a 10^12-element
// tensor (4 TB) in a 1 kB file, a manifest line of 10 hours, and a sparse 10-hour WAV whose header is honest.
TEST(Faults, AbsurdSizesAreRefusedBeforeAllocation) {
  TempDir d;
  const std::string huge = d / "huge.safetensors";
  const std::string header = R"({"w":{"dtype":"F32","shape":[1000000,1000000],"data_offsets":[0,4000000000000]}})";
  std::string bytes(8, '\0');
  const uint64_t n = header.size();
  std::memcpy(bytes.data(), &n, 8);
  WriteFile(huge, bytes + header + std::string(1024, '\0'));
  ExpectCleanError(RunFas({"inspect", huge}), {huge, "out of range (data buffer holds 1024 bytes)"});
  // The same as a checkpoint's weights.
  const std::string run = d / "run";
  CopyRun(ReferenceRun(), run);
  fs::remove(run + "/checkpoints/best/model.safetensors");
  fs::copy_file(huge, run + "/checkpoints/best/model.safetensors");
  ExpectCleanError(RunFas({"eval", "--run", run, "--manifest", fas::testing::TinyCorpus() + "/test.jsonl", "--threads", "1"}),
                   {"best/model.safetensors", "out of range"});

  // A 10-hour WAV (16 kHz, 16-bit: 1.15 GB, sparse on disk).
  const std::string long_wav = d / "long.wav";
  {
    const auto r = RunProgram({"/usr/bin/python3", "-c",
                               "import struct,sys\n"
                               "n=36000*16000*2\n"
                               "f=open(sys.argv[1],'wb')\n"
                               "f.write(b'RIFF'+struct.pack('<I',36+n)+b'WAVEfmt '+struct.pack('<IHHIIHH',16,1,1,16000,32000,2,16)+b'data'+struct.pack('<I',n))\n"
                               "f.truncate(44+n)\n",
                               long_wav});
    ASSERT_EQ(r.exit_code, 0) << r.err;
  }
  ExpectCleanError(RunFas({"predict", "--run", ReferenceRun(), long_wav, "--text", "i am fine", "--threads", "1"}),
                   {long_wav, "exceeds the limit of 3600"});

  // A manifest line that says 10 hours.
  const std::string root = d / "corpus";
  fs::create_directories(root);
  fs::create_directory_symlink(fas::testing::TinyCorpus() + "/wavs", root + "/wavs");
  fs::copy_file(fas::testing::TinyCorpus() + "/dev.jsonl", root + "/dev.jsonl");
  auto train = JsonLines(fas::testing::TinyCorpus() + "/train.jsonl");
  train[3]["duration"] = 36000.0;
  std::string text;
  for (const auto& j : train) text += j.dump() + "\n";
  WriteFile(root + "/train.jsonl", text);
  auto args = TrainArgs(d / "run10h");
  args[std::find(args.begin(), args.end(), "data.root=" + fas::testing::TinyCorpus()) - args.begin()] = "data.root=" + root;
  ExpectCleanError(RunFas(args), {root + "/train.jsonl:4:", "exceeds the limit of 3600"});
}

}  // namespace

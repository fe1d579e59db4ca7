#include <gtest/gtest.h>
#include <sys/wait.h>
#include <torch/torch.h>
#include <unistd.h>

#include <csignal>
#include <filesystem>
#include <random>

#include "fas/core/error.h"
#include "fas/engine/checkpoint_folder.h"
#include "fas/engine/metrics_log.h"
#include "fas/engine/rng_state.h"
#include "fas/engine/stop_signal.h"
#include "support/test_support.h"

namespace fs = std::filesystem;
using fas::testing::ReadFile;
using fas::testing::TempDir;

namespace {

void WriteVersion(const std::string& dir, const std::string& v) {
  fas::CheckpointTransaction t(dir);
  t.WriteFile("weights", "weights " + v);
  t.WriteFile("state.json", "{\"v\": \"" + v + "\"}");
  t.Commit();
}

TEST(CheckpointFolder, CommitReplacesTheWholeFolder) {
  TempDir d;
  const std::string last = d / "checkpoints/last";
  WriteVersion(last, "1");
  EXPECT_EQ(ReadFile(last + "/weights"), "weights 1");
  {
    fas::CheckpointTransaction t(last);
    t.WriteFile("weights", "weights 2");  // no state.json this time: the old one must not survive
    t.Commit();
  }
  EXPECT_EQ(ReadFile(last + "/weights"), "weights 2");
  EXPECT_FALSE(fs::exists(last + "/state.json"));
  // Nothing but the checkpoint itself is left beside it.
  int entries = 0;
  for (const auto& e : fs::directory_iterator(d / "checkpoints")) entries += e.path().filename() == "last" ? 0 : 1;
  EXPECT_EQ(entries, 0);
}

TEST(CheckpointFolder, UncommittedVersionIsDiscarded) {
  TempDir d;
  const std::string last = d / "last";
  WriteVersion(last, "1");
  {
    fas::CheckpointTransaction t(last);
    t.WriteFile("weights", "half-written");
  }
  EXPECT_EQ(ReadFile(last + "/weights"), "weights 1");
}

// A writer killed after writing the new version but before the rename (SIGKILL: no destructor runs) leaves the
// previous checkpoint loadable, and the next writer clears the leftover temporary folder.
TEST(CheckpointFolder, KillBetweenWriteAndRenameKeepsThePreviousVersion) {
  TempDir d;
  const std::string last = d / "last";
  WriteVersion(last, "1");
  const pid_t pid = fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    fas::CheckpointTransaction t(last);
    t.WriteFile("weights", "weights 2");
    t.WriteFile("state.json", "{\"v\": \"2\"}");
    ::kill(::getpid(), SIGKILL);
    _exit(0);
  }
  int status = 0;
  ASSERT_EQ(waitpid(pid, &status, 0), pid);
  ASSERT_TRUE(WIFSIGNALED(status));
  EXPECT_EQ(fas::FindCheckpoint(last), last);
  EXPECT_EQ(ReadFile(last + "/weights"), "weights 1");
  EXPECT_TRUE(fs::exists(d / (".last.tmp-" + std::to_string(pid)))) << "the killed writer's folder";
  WriteVersion(last, "3");
  EXPECT_EQ(ReadFile(last + "/weights"), "weights 3");
  EXPECT_FALSE(fs::exists(d / (".last.tmp-" + std::to_string(pid))));
}

// The fallback swap (two renames) killed between them leaves only NAME.old: it is what gets loaded, and the next
// commit puts a fresh NAME in place and removes it.
TEST(CheckpointFolder, KillBetweenFallbackRenamesLoadsTheOldFolder) {
  TempDir d;
  const std::string last = d / "last";
  WriteVersion(last, "1");
  fs::rename(last, last + ".old");
  EXPECT_EQ(fas::FindCheckpoint(last), last + ".old");
  EXPECT_EQ(ReadFile(fas::FindCheckpoint(last) + "/weights"), "weights 1");
  WriteVersion(last, "2");
  EXPECT_EQ(fas::FindCheckpoint(last), last);
  EXPECT_FALSE(fs::exists(last + ".old"));
  EXPECT_EQ(fas::FindCheckpoint(d / "missing"), "");
}

TEST(CheckpointFolder, CopyLinksEveryFile) {
  TempDir d;
  WriteVersion(d / "last", "7");
  fas::CopyCheckpoint(d / "last", d / "best");
  EXPECT_EQ(ReadFile(d / "best/weights"), "weights 7");
  EXPECT_EQ(ReadFile(d / "best/state.json"), "{\"v\": \"7\"}");
  WriteVersion(d / "last", "8");  // a new `last` leaves `best` as it was
  EXPECT_EQ(ReadFile(d / "best/weights"), "weights 7");
}

TEST(RngState, TorchGeneratorAndEnginesRoundTrip) {
  torch::manual_seed(3);
  torch::rand({5});
  const fas::RngState saved{fas::CaptureTorchRng(), {}, {}};
  const torch::Tensor expected = torch::rand({8});
  std::mt19937_64 engine(11);
  engine();
  fas::RngState with_engine = saved;
  with_engine.streams["shuffle"] = fas::SaveEngine(engine);
  const uint64_t next = engine();

  const fas::RngState back = fas::RngState::FromJson(nlohmann::json::parse(with_engine.ToJson().dump()));
  torch::manual_seed(99);
  fas::RestoreTorchRng(back.torch_cpu);
  EXPECT_TRUE(torch::equal(torch::rand({8}), expected));
  std::mt19937_64 restored;
  fas::LoadEngine(back.streams.at("shuffle"), restored);
  EXPECT_EQ(restored(), next);
  EXPECT_THROW(fas::LoadEngine("not a state", restored), fas::IoError);
  EXPECT_THROW(fas::RngState::FromJson(nlohmann::json{{"torch_cpu", "zz"}, {"streams", nlohmann::json::object()}}),
               fas::IoError);
}

// GPU generator states travel as hexadecimal like the CPU's; a checkpoint written before they were recorded (no
// torch_cuda key) still loads, with none.
TEST(RngState, CudaStatesRoundTripAndOldCheckpointsLoad) {
  fas::RngState r{{1, 2, 3}, {{"shuffle", "5"}}, {{0xde, 0xad, 0x00}, {0xbe, 0xef}}};
  const fas::RngState back = fas::RngState::FromJson(nlohmann::json::parse(r.ToJson().dump()));
  EXPECT_EQ(back.torch_cpu, r.torch_cpu);
  EXPECT_EQ(back.streams, r.streams);
  EXPECT_EQ(back.torch_cuda, r.torch_cuda);
  const fas::RngState old =
      fas::RngState::FromJson(nlohmann::json{{"torch_cpu", "0102"}, {"streams", nlohmann::json::object()}});
  EXPECT_EQ(old.torch_cpu, (std::vector<uint8_t>{1, 2}));
  EXPECT_TRUE(old.torch_cuda.empty());
  EXPECT_THROW(fas::RngState::FromJson(nlohmann::json{
                   {"torch_cpu", "01"}, {"streams", nlohmann::json::object()}, {"torch_cuda", {"zz"}}}),
               fas::IoError);
}

// Without a GPU there is nothing to capture, and a GPU run's states are set aside (logged), not an error.
TEST(RngState, CudaStatesWithoutAGpu) {
  if (torch::cuda::is_available()) GTEST_SKIP() << "a GPU is visible";
  EXPECT_TRUE(fas::CaptureCudaRng().empty());
  EXPECT_NO_THROW(fas::RestoreCudaRng({{1, 2, 3}}));
}

TEST(RngState, CudaGeneratorRoundTrip) {
  if (!torch::cuda::is_available()) GTEST_SKIP() << "no GPU";
  torch::manual_seed(5);
  torch::rand({5}, torch::kCUDA);
  const auto saved = fas::RngState::FromJson(fas::RngState{{}, {}, fas::CaptureCudaRng()}.ToJson()).torch_cuda;
  ASSERT_EQ(saved.size(), static_cast<size_t>(torch::cuda::device_count()));
  const torch::Tensor expected = torch::rand({1000}, torch::kCUDA);
  torch::manual_seed(99);
  fas::RestoreCudaRng(saved);
  EXPECT_TRUE(torch::equal(torch::rand({1000}, torch::kCUDA), expected));
}

TEST(MetricsLog, LinesAreFlushedAndTruncatedOnResume) {
  TempDir d;
  const std::string path = d / "metrics.jsonl";
  {
    fas::MetricsLog log(path);
    for (int s = 1; s <= 5; ++s) log.Write({{"step", s}, {"loss", 1.0 / s}});
    const std::string so_far = ReadFile(path);
    EXPECT_EQ(std::count(so_far.begin(), so_far.end(), '\n'), 5);  // visible before closing
    log.Write({{"event", "eval"}, {"step", 5}});
  }
  std::ofstream(path, std::ios::app) << "{\"step\": 6, \"lo";  // torn line of a killed run
  fas::MetricsLog::TruncateAfterStep(path, 3);
  const std::string text = ReadFile(path);
  EXPECT_EQ(std::count(text.begin(), text.end(), '\n'), 3);
  EXPECT_EQ(text.find("\"step\":4"), std::string::npos);
  fas::MetricsLog(path).Write({{"step", 4}});
  EXPECT_NE(ReadFile(path).find("\"step\":4"), std::string::npos);
}

TEST(StopSignal, SigtermRaisesTheFlagAndTheScopeRestoresTheHandler) {
  {
    fas::StopSignalScope scope;
    EXPECT_FALSE(fas::StopRequested());
    ::raise(SIGTERM);
    EXPECT_TRUE(fas::StopRequested());
    EXPECT_EQ(fas::StopSignalNumber(), SIGTERM);
  }
  fas::ClearStopRequest();
  fas::RequestStop();
  EXPECT_TRUE(fas::StopRequested());
  EXPECT_EQ(fas::StopSignalNumber(), 0);
  fas::ClearStopRequest();
}

}  // namespace

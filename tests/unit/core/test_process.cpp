// The one helper every child process goes through: exit codes and signals read back, a program that cannot run
// named at once, pipes both ways, the environment passed on, stop signals forwarded.
#include <gtest/gtest.h>
#include <signal.h>
#include <unistd.h>

#include <string>
#include <vector>

#include "fas/core/error.h"
#include "fas/core/process.h"
#include "support/test_support.h"

namespace {

using fas::Output;
using fas::Process;
using fas::SpawnOptions;

fas::ExitStatus Sh(const std::string& script, const SpawnOptions& options = {}) {
  return Process::Spawn({"/bin/sh", "-c", script}, options).Wait();
}

TEST(Process, ExitCodesAreReadBack) {
  EXPECT_TRUE(Sh("exit 0").ok());
  const auto s = Sh("exit 3");
  EXPECT_FALSE(s.ok());
  EXPECT_TRUE(s.exited(3));
  EXPECT_EQ(s.signal, 0);
  EXPECT_EQ(s.Describe(), "exited with code 3");
}

TEST(Process, ASignalIsNamed) {
  auto p = Process::Spawn({"/bin/sh", "-c", "exec sleep 30"});
  EXPECT_TRUE(p.running());
  EXPECT_FALSE(p.TryWait().has_value());
  p.Kill(SIGKILL);
  const auto s = p.Wait();
  EXPECT_EQ(s.signal, SIGKILL);
  EXPECT_EQ(s.code, -1);
  EXPECT_FALSE(p.running());
  EXPECT_NE(s.Describe().find("killed by signal 9"), std::string::npos) << s.Describe();
  EXPECT_EQ(p.Wait().signal, SIGKILL) << "the status is kept once read";
}

TEST(Process, AMissingProgramIsOneClearError) {
  for (const std::string program : {"fas-no-such-program", "/nonexistent/fas-no-such-program"}) {
    try {
      Process::Spawn({program, "--flag"});
      FAIL() << "expected an error for " << program;
    } catch (const fas::IoError& e) {
      const std::string what = e.what();
      EXPECT_NE(what.find("cannot run " + program), std::string::npos) << what;
      EXPECT_NE(what.find("No such file"), std::string::npos) << what;
    }
  }
  EXPECT_THROW(Process::Spawn({}), fas::ConfigError);
}

TEST(Process, PipesRoundTrip) {
  SpawnOptions o;
  o.stdin_pipe = true;
  o.stdout_to = Output::kPipe;
  auto p = Process::Spawn({"cat"}, o);
  // Line by line, as festival is driven: each answer read before the next question.
  char buffer[64];
  for (const std::string line : {"one\n", "two\n"}) {
    p.Write(line);
    std::string got;
    while (got.size() < line.size()) {
      const size_t n = p.Read(buffer, sizeof(buffer));
      ASSERT_GT(n, 0u);
      got.append(buffer, n);
    }
    EXPECT_EQ(got, line);
  }
  const std::string big(1 << 20, 'x');
  p.Write(big.substr(0, 1000));
  p.CloseStdin();
  EXPECT_EQ(p.ReadAll(), big.substr(0, 1000));
  EXPECT_TRUE(p.Wait().ok());
}

TEST(Process, WritingToAChildThatExitedIsAnError) {
  SpawnOptions o;
  o.stdin_pipe = true;
  auto p = Process::Spawn({"/bin/sh", "-c", "exit 0"}, o);
  p.Wait();
  EXPECT_THROW(p.Write(std::string(1 << 20, 'x')), fas::IoError);  // and no SIGPIPE ends the test
}

TEST(Process, EnvironmentAdditionsAndOutputFiles) {
  fas::testing::TempDir d;
  SpawnOptions o;
  o.env = {{"FAS_PROCESS_TEST", "forty two"}, {"HOME", "/fas-home"}};
  o.stdout_to = Output::kFile;
  o.stdout_file = d / "out.txt";
  o.stderr_to = Output::kFile;
  o.stderr_file = d / "err.txt";
  ASSERT_TRUE(Sh("echo \"$FAS_PROCESS_TEST $HOME\"; echo oops >&2", o).ok());
  ASSERT_TRUE(Sh("echo again", o).ok());
  EXPECT_EQ(fas::testing::ReadFile(d / "out.txt"), "forty two /fas-home\nagain\n") << "appended, not replaced";
  EXPECT_EQ(fas::testing::ReadFile(d / "err.txt"), "oops\n");

  SpawnOptions quiet;
  quiet.stdout_to = Output::kNull;
  quiet.stderr_to = Output::kNull;
  EXPECT_TRUE(Sh("echo nothing; echo nothing >&2", quiet).ok());

  SpawnOptions bad;
  bad.stderr_to = Output::kFile;
  bad.stderr_file = d / "missing/folder/err.txt";
  EXPECT_THROW(Sh("true", bad), fas::IoError);
  bad.stderr_to = Output::kPipe;
  EXPECT_THROW(Sh("true", bad), fas::ConfigError);
}

TEST(Process, ProgramDiffersFromArgvZero) {
  SpawnOptions o;
  o.program = "/bin/sh";
  o.stdout_to = Output::kPipe;
  auto p = Process::Spawn({"named-otherwise", "-c", "echo $0"}, o);
  EXPECT_EQ(p.ReadAll(), "named-otherwise\n");
  EXPECT_TRUE(p.Wait().ok());
}

TEST(Process, WaitAnyReturnsTheFirstToEnd) {
  std::vector<Process> ps;
  ps.push_back(Process::Spawn({"/bin/sh", "-c", "exec sleep 30"}));
  ps.push_back(Process::Spawn({"/bin/sh", "-c", "exit 4"}));
  EXPECT_EQ(fas::WaitAny(ps), 1);
  EXPECT_TRUE(ps[1].Wait().exited(4));
  ps[0].Kill(SIGTERM);
  EXPECT_EQ(fas::WaitAny(ps), 0);
  EXPECT_EQ(ps[0].Wait().signal, SIGTERM);
  EXPECT_EQ(fas::WaitAny(ps), -1);
}

TEST(Process, ADroppedChildIsKilledAndReaped) {
  pid_t pid = -1;
  {
    auto p = Process::Spawn({"/bin/sh", "-c", "exec sleep 30"});
    pid = p.pid();
  }
  EXPECT_NE(::kill(pid, 0), 0) << "no process (nor zombie) left behind";
}

TEST(StopSignalForwarder, PassesStopSignalsToChildren) {
  auto p = Process::Spawn({"/bin/sh", "-c", "exec sleep 30"});
  {
    fas::StopSignalForwarder forward;
    forward.Forward(p.pid());
    EXPECT_FALSE(forward.stopped());
    ::raise(SIGTERM);  // would end the test without the forwarder
    EXPECT_TRUE(forward.stopped());
    EXPECT_EQ(p.Wait().signal, SIGTERM);
    EXPECT_THROW(fas::StopSignalForwarder(), fas::Error) << "one at a time";
  }
  fas::StopSignalForwarder again;  // the first one gave its place back
  EXPECT_FALSE(again.stopped());
}

}  // namespace

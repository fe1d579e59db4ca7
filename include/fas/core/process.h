// Child processes: every program fas starts (a `fas train` of a suite, the data-parallel workers, festival, the
// plotting script) goes through Process. It starts with posix_spawn, so a program that cannot be run is an error
// at Spawn naming it rather than a child that exits 127; it writes to a child's stdin with MSG_NOSIGNAL, so a
// child that died is an IoError rather than a SIGPIPE that kills fas.
#pragma once

#include <sys/types.h>

#include <map>
#include <optional>
#include <string>
#include <vector>

namespace fas {

// How a child ended.
struct ExitStatus {
  int code = -1;   // the exit code; -1 when a signal ended it
  int signal = 0;  // the signal that ended it; 0 when it exited

  bool ok() const { return signal == 0 && code == 0; }
  bool exited(int c) const { return signal == 0 && code == c; }
  // "exited with code 3", "was killed by signal 9 (Killed)".
  std::string Describe() const;
  static ExitStatus FromWaitStatus(int status);
};

// Where a child's stdout or stderr goes.
enum class Output {
  kInherit,  // ours
  kNull,     // /dev/null
  kFile,     // appended to a file (created when missing)
  kPipe,     // read with Process::Read (stdout only)
};

struct SpawnOptions {
  // The file executed; "" = argv[0]. A name without '/' is looked up on PATH.
  std::string program;
  // Set in the child's environment over ours.
  std::map<std::string, std::string> env;
  bool stdin_pipe = false;  // written with Process::Write; otherwise the child shares our stdin
  Output stdout_to = Output::kInherit;
  std::string stdout_file;  // kFile
  Output stderr_to = Output::kInherit;
  std::string stderr_file;  // kFile
};

class Process {
 public:
  // Starts argv. Throws IoError naming the program when it cannot be run (not found, not executable) and
  // ConfigError for options that make no sense (an empty argv, stderr to a pipe).
  static Process Spawn(const std::vector<std::string>& argv, const SpawnOptions& options = {});

  Process() = default;
  Process(Process&& other) noexcept;
  Process& operator=(Process&& other) noexcept;
  Process(const Process&) = delete;
  Process& operator=(const Process&) = delete;
  // A child still running is killed (SIGKILL) and reaped: a Process never leaves a zombie or an orphan behind.
  ~Process();

  pid_t pid() const { return pid_; }
  const std::string& name() const { return name_; }
  bool running() const { return pid_ > 0 && !status_; }

  // The whole of `bytes` to the child's stdin; IoError when the child no longer reads it.
  void Write(const std::string& bytes);
  void CloseStdin();
  // Stops reading the child's stdout: a child still writing gets EPIPE (or SIGPIPE) instead of blocking on a full pipe.
  void CloseStdout();
  // Up to `size` bytes of the child's stdout; 0 at its end. Waits for data.
  size_t Read(char* buffer, size_t size);
  std::string ReadAll();

  // Waits for the child to end. A signal caught meanwhile does not interrupt the wait.
  ExitStatus Wait();
  // The status when the child has ended, without waiting.
  std::optional<ExitStatus> TryWait();
  // Sends `signal` to a running child; nothing when it has ended.
  void Kill(int signal);

 private:
  void Close();
  pid_t pid_ = -1;
  std::string name_;  // the program, for messages
  int stdin_fd_ = -1, stdout_fd_ = -1;
  std::optional<ExitStatus> status_;
};

// Waits until one of the running processes of `processes` ends; returns its index. Processes that already ended
// are not waited for; -1 when none is running.
int WaitAny(std::vector<Process>& processes);

// While alive, SIGINT and SIGTERM sent to fas are passed on to the children added with Forward (a Ctrl-C or a job
// scheduler's stop reaches a child that saves its state), instead of ending fas. One at a time per process.
class StopSignalForwarder {
 public:
  StopSignalForwarder();
  ~StopSignalForwarder();
  StopSignalForwarder(const StopSignalForwarder&) = delete;
  StopSignalForwarder& operator=(const StopSignalForwarder&) = delete;

  void Forward(pid_t pid);
  // Whether a stop signal arrived since construction.
  bool stopped() const;
};

}  // namespace fas

#include "fas/core/process.h"

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <thread>
#include <utility>

#include "fas/core/error.h"

extern char** environ;

namespace fas {

namespace {

std::string Errno(int e) { return std::strerror(e); }

// The descriptors a spawn opens; closed on every path out of Spawn, whether the child started or not.
struct Descriptors {
  int stdin_parent = -1, stdin_child = -1;
  int stdout_parent = -1, stdout_child = -1;
  int stderr_child = -1;
  ~Descriptors() {
    for (int fd : {stdin_parent, stdin_child, stdout_parent, stdout_child, stderr_child}) {
      if (fd >= 0) ::close(fd);
    }
  }
};

int OpenOutput(Output to, const std::string& file, const char* stream) {
  if (to == Output::kNull) return ::open("/dev/null", O_WRONLY | O_CLOEXEC);
  if (to != Output::kFile) return -1;
  if (file.empty()) throw ConfigError(std::string("a child's ") + stream + " goes to a file, but none is named");
  const int fd = ::open(file.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  if (fd < 0) throw IoError("cannot open " + file + " for a child's " + stream + ": " + Errno(errno));
  return fd;
}

// Our environment with `extra` set over it, as posix_spawn takes it.
std::vector<std::string> Environment(const std::map<std::string, std::string>& extra) {
  std::vector<std::string> env;
  for (char** e = environ; e != nullptr && *e != nullptr; ++e) {
    const std::string entry = *e;
    if (!extra.count(entry.substr(0, entry.find('=')))) env.push_back(entry);
  }
  for (const auto& [key, value] : extra) env.push_back(key + "=" + value);
  return env;
}

std::vector<char*> Pointers(const std::vector<std::string>& strings) {
  std::vector<char*> out;
  for (const auto& s : strings) out.push_back(const_cast<char*>(s.c_str()));
  out.push_back(nullptr);
  return out;
}

// The children StopSignalForwarder passes signals on to. The handler reads them, so they are lock-free atomics in
// a fixed array rather than a container that could move under it.
constexpr size_t kMaxForwarded = 1024;
std::atomic<pid_t> g_forwarded[kMaxForwarded];
std::atomic<size_t> g_forwarded_count{0};
std::atomic<bool> g_forwarder_active{false};
volatile sig_atomic_t g_stop_received = 0;
struct sigaction g_old_int, g_old_term;

void ForwardStopSignal(int signal_number) {
  g_stop_received = 1;
  const size_t n = g_forwarded_count.load();
  for (size_t i = 0; i < n; ++i) {
    const pid_t pid = g_forwarded[i].load();
    if (pid > 0) ::kill(pid, signal_number);
  }
}

}  // namespace

std::string ExitStatus::Describe() const {
  if (signal != 0) {
    const char* name = ::strsignal(signal);
    return "was killed by signal " + std::to_string(signal) + (name != nullptr ? std::string(" (") + name + ")" : "");
  }
  return "exited with code " + std::to_string(code);
}

ExitStatus ExitStatus::FromWaitStatus(int status) {
  ExitStatus s;
  if (WIFSIGNALED(status)) {
    s.signal = WTERMSIG(status);
  } else if (WIFEXITED(status)) {
    s.code = WEXITSTATUS(status);
  }
  return s;
}

Process Process::Spawn(const std::vector<std::string>& argv, const SpawnOptions& options) {
  if (argv.empty()) throw ConfigError("cannot start a process without a program");
  if (options.stderr_to == Output::kPipe) throw ConfigError("a child's stderr goes to a file, /dev/null or ours");
  const std::string program = options.program.empty() ? argv[0] : options.program;
  Descriptors fds;
  if (options.stdin_pipe) {
    int pair[2];
    if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, pair) != 0) {
      throw IoError("cannot create a pipe for " + program + ": " + Errno(errno));
    }
    fds.stdin_parent = pair[0];
    fds.stdin_child = pair[1];
  }
  if (options.stdout_to == Output::kPipe) {
    int p[2];
    if (::pipe2(p, O_CLOEXEC) != 0) throw IoError("cannot create a pipe for " + program + ": " + Errno(errno));
    fds.stdout_parent = p[0];
    fds.stdout_child = p[1];
  } else {
    fds.stdout_child = OpenOutput(options.stdout_to, options.stdout_file, "stdout");
  }
  fds.stderr_child = OpenOutput(options.stderr_to, options.stderr_file, "stderr");

  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  if (fds.stdin_child >= 0) posix_spawn_file_actions_adddup2(&actions, fds.stdin_child, 0);
  if (fds.stdout_child >= 0) posix_spawn_file_actions_adddup2(&actions, fds.stdout_child, 1);
  if (fds.stderr_child >= 0) posix_spawn_file_actions_adddup2(&actions, fds.stderr_child, 2);
  // A child starts with the default SIGINT / SIGTERM handling and nothing blocked, whatever fas set for itself
  // (StopSignalForwarder's handlers are reset by exec anyway; an ignored or blocked signal would not be).
  posix_spawnattr_t attr;
  posix_spawnattr_init(&attr);
  sigset_t defaults, none;
  sigemptyset(&defaults);
  sigaddset(&defaults, SIGINT);
  sigaddset(&defaults, SIGTERM);
  sigaddset(&defaults, SIGPIPE);
  sigemptyset(&none);
  posix_spawnattr_setsigdefault(&attr, &defaults);
  posix_spawnattr_setsigmask(&attr, &none);
  posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSIGMASK);

  const std::vector<std::string> env = Environment(options.env);
  std::vector<char*> args = Pointers(argv), envp = Pointers(env);
  pid_t pid = -1;
  const int rc = program.find('/') == std::string::npos
                     ? ::posix_spawnp(&pid, program.c_str(), &actions, &attr, args.data(), envp.data())
                     : ::posix_spawn(&pid, program.c_str(), &actions, &attr, args.data(), envp.data());
  posix_spawn_file_actions_destroy(&actions);
  posix_spawnattr_destroy(&attr);
  if (rc != 0) {
    throw IoError("cannot run " + program + ": " + Errno(rc) +
                  (rc == ENOENT && program.find('/') == std::string::npos ? " (not found on PATH)" : ""));
  }
  Process p;
  p.pid_ = pid;
  p.name_ = program;
  std::swap(p.stdin_fd_, fds.stdin_parent);
  std::swap(p.stdout_fd_, fds.stdout_parent);
  return p;
}

Process::Process(Process&& other) noexcept { *this = std::move(other); }

Process& Process::operator=(Process&& other) noexcept {
  if (this == &other) return *this;
  Close();
  pid_ = std::exchange(other.pid_, -1);
  name_ = std::move(other.name_);
  stdin_fd_ = std::exchange(other.stdin_fd_, -1);
  stdout_fd_ = std::exchange(other.stdout_fd_, -1);
  status_ = std::exchange(other.status_, std::nullopt);
  return *this;
}

Process::~Process() { Close(); }

void Process::Close() {
  CloseStdin();
  CloseStdout();
  if (running()) {
    Kill(SIGKILL);
    Wait();
  }
  pid_ = -1;
}

void Process::Write(const std::string& bytes) {
  if (stdin_fd_ < 0) throw IoError(name_ + ": stdin is not a pipe (SpawnOptions::stdin_pipe) or is closed");
  size_t done = 0;
  while (done < bytes.size()) {
    const ssize_t n = ::send(stdin_fd_, bytes.data() + done, bytes.size() - done, MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) throw IoError(name_ + " stopped reading its input (" + Errno(errno) + "; did it exit?)");
    done += static_cast<size_t>(n);
  }
}

void Process::CloseStdin() {
  if (stdin_fd_ >= 0) ::close(std::exchange(stdin_fd_, -1));
}

void Process::CloseStdout() {
  if (stdout_fd_ >= 0) ::close(std::exchange(stdout_fd_, -1));
}

size_t Process::Read(char* buffer, size_t size) {
  if (stdout_fd_ < 0) throw IoError(name_ + ": stdout is not a pipe (Output::kPipe)");
  while (true) {
    const ssize_t n = ::read(stdout_fd_, buffer, size);
    if (n >= 0) return static_cast<size_t>(n);
    if (errno != EINTR) throw IoError("cannot read the output of " + name_ + ": " + Errno(errno));
  }
}

std::string Process::ReadAll() {
  std::string out;
  char buffer[4096];
  while (const size_t n = Read(buffer, sizeof(buffer))) out.append(buffer, n);
  return out;
}

ExitStatus Process::Wait() {
  if (status_) return *status_;
  if (pid_ <= 0) throw Error("waiting for a process that was never started");
  int status = 0;
  while (::waitpid(pid_, &status, 0) < 0) {
    if (errno != EINTR) throw Error("cannot wait for " + name_ + ": " + Errno(errno));
  }
  status_ = ExitStatus::FromWaitStatus(status);
  return *status_;
}

std::optional<ExitStatus> Process::TryWait() {
  if (status_ || pid_ <= 0) return status_;
  int status = 0;
  const pid_t done = ::waitpid(pid_, &status, WNOHANG);
  if (done == pid_) status_ = ExitStatus::FromWaitStatus(status);
  return status_;
}

void Process::Kill(int signal) {
  if (running()) ::kill(pid_, signal);
}

int WaitAny(std::vector<Process>& processes) {
  // Polled rather than waitpid(-1): that would also reap children fas did not start here (another Process).
  while (true) {
    bool any = false;
    for (size_t i = 0; i < processes.size(); ++i) {
      if (!processes[i].running()) continue;
      any = true;
      if (processes[i].TryWait()) return static_cast<int>(i);
    }
    if (!any) return -1;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
}

StopSignalForwarder::StopSignalForwarder() {
  if (g_forwarder_active.exchange(true)) throw Error("a StopSignalForwarder is already active in this process");
  g_forwarded_count = 0;
  g_stop_received = 0;
  struct sigaction forward {};
  forward.sa_handler = ForwardStopSignal;
  sigemptyset(&forward.sa_mask);
  ::sigaction(SIGINT, &forward, &g_old_int);
  ::sigaction(SIGTERM, &forward, &g_old_term);
}

StopSignalForwarder::~StopSignalForwarder() {
  ::sigaction(SIGINT, &g_old_int, nullptr);
  ::sigaction(SIGTERM, &g_old_term, nullptr);
  g_forwarded_count = 0;
  g_forwarder_active = false;
}

void StopSignalForwarder::Forward(pid_t pid) {
  const size_t n = g_forwarded_count.load();
  if (n == kMaxForwarded) throw Error("too many child processes to pass stop signals on to");
  g_forwarded[n] = pid;
  g_forwarded_count = n + 1;
}

bool StopSignalForwarder::stopped() const { return g_stop_received != 0; }

}  // namespace fas

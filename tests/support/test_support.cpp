#include "support/test_support.h"

#include <fcntl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <stdexcept>

namespace fs = std::filesystem;

namespace fas::testing {

TempDir::TempDir() {
  std::string tmpl = (fs::temp_directory_path() / "fas-test-XXXXXX").string();
  if (mkdtemp(tmpl.data()) == nullptr) throw std::runtime_error("mkdtemp failed");
  path_ = tmpl;
}

TempDir::~TempDir() {
  std::error_code ec;
  if (std::getenv("FAS_KEEP_TEST_DIRS") == nullptr) fs::remove_all(path_, ec);
}

std::string FasBinary() {
  const char* bin = std::getenv("FAS_BIN");
  if (bin == nullptr) throw std::runtime_error("FAS_BIN is not set: run the tests through ctest");
  return bin;
}

std::string SourceDir() {
  const char* dir = std::getenv("FAS_SOURCE_DIR");
  return dir != nullptr ? dir : ".";
}

std::string TinyCorpus() {
  const char* dir = std::getenv("FAS_TINY_CORPUS");
  return dir != nullptr ? dir : "";
}

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

void WriteFile(const std::string& path, const std::string& content) {
  fs::create_directories(fs::path(path).parent_path());
  std::ofstream out(path, std::ios::binary);
  out << content;
}

std::vector<nlohmann::json> JsonLines(const std::string& path) {
  std::vector<nlohmann::json> out;
  std::ifstream in(path);
  for (std::string line; std::getline(in, line);) {
    if (!line.empty()) out.push_back(nlohmann::json::parse(line));
  }
  return out;
}

namespace {
std::string Drain(int fd) {
  std::string s;
  char buf[4096];
  ssize_t n;
  while ((n = read(fd, buf, sizeof(buf))) > 0) s.append(buf, n);
  return s;
}
}  // namespace

CommandResult RunProgram(const std::vector<std::string>& argv, const std::string& cwd) {
  // Output goes to temporary files rather than pipes so that a chatty child can never block on a full pipe.
  TempDir tmp;
  const std::string out_path = tmp / "out", err_path = tmp / "err";
  const pid_t pid = fork();
  if (pid < 0) throw std::runtime_error("fork failed");
  if (pid == 0) {
    const int out = open(out_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    const int err = open(err_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    dup2(out, STDOUT_FILENO);
    dup2(err, STDERR_FILENO);
    const int devnull = open("/dev/null", O_RDONLY);
    dup2(devnull, STDIN_FILENO);
    if (!cwd.empty() && chdir(cwd.c_str()) != 0) _exit(126);
    std::vector<char*> args;
    for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
    args.push_back(nullptr);
    execvp(args[0], args.data());
    _exit(127);
  }
  int status = 0;
  waitpid(pid, &status, 0);
  CommandResult r;
  r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  const int out = open(out_path.c_str(), O_RDONLY), err = open(err_path.c_str(), O_RDONLY);
  r.out = Drain(out);
  r.err = Drain(err);
  close(out);
  close(err);
  return r;
}

CommandResult RunFas(const std::vector<std::string>& args, const std::string& cwd) {
  std::vector<std::string> argv{FasBinary()};
  argv.insert(argv.end(), args.begin(), args.end());
  return RunProgram(argv, cwd);
}

}  // namespace fas::testing

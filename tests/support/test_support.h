// Shared test helpers: a temporary folder that cleans itself up, and running the real `fas` binary.
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace fas::testing {

// A fresh folder under $TMPDIR, removed when the object goes away.
class TempDir {
 public:
  TempDir();
  ~TempDir();
  const std::string& path() const { return path_; }
  std::string operator/(const std::string& name) const { return path_ + "/" + name; }

 private:
  std::string path_;
};

struct CommandResult {
  int exit_code = -1;
  std::string out;  // stdout
  std::string err;  // stderr
};

// The message of the E that `fn` throws, or "" when it throws none (another exception passes through).
template <class E, class F>
std::string ErrorOf(F&& fn) {
  try {
    fn();
  } catch (const E& e) {
    return e.what();
  }
  return "";
}

// Runs `$FAS_BIN args...` (no shell) and captures its output.
CommandResult RunFas(const std::vector<std::string>& args, const std::string& cwd = "");
// Runs any program (no shell) and captures its output.
CommandResult RunProgram(const std::vector<std::string>& argv, const std::string& cwd = "");

// The tiny synthetic corpus the ctest fixture `tiny_corpus` writes ($FAS_TINY_CORPUS; "" outside ctest).
std::string TinyCorpus();

std::string FasBinary();
std::string SourceDir();  // the repository root
std::string ReadFile(const std::string& path);
void WriteFile(const std::string& path, const std::string& content);
// The records of a JSON-lines file (metrics.jsonl, a manifest, predictions.jsonl); blank lines skipped.
std::vector<nlohmann::json> JsonLines(const std::string& path);

}  // namespace fas::testing

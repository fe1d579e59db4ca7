#include "fas/eval/plots.h"

#include <spdlog/spdlog.h>
#include <unistd.h>

#include <filesystem>
#include <vector>

#include "fas/core/error.h"
#include "fas/core/process.h"
#include "source_tree.h"

namespace fs = std::filesystem;

namespace fas {

namespace {

// Debian's python with matplotlib, named in full: another python3 (pyenv's) may come first on PATH.
constexpr const char* kPython = "/usr/bin/python3";

// Whether argv ran and exited with 0; its stdout is discarded, as the script reports through its files.
bool Succeeds(const std::vector<std::string>& argv) {
  SpawnOptions options;
  options.stdout_to = Output::kNull;
  try {
    return Process::Spawn(argv, options).Wait().ok();
  } catch (const IoError& e) {
    spdlog::debug("{}", e.what());
    return false;
  }
}

}  // namespace

std::string FindPlotScript() { return FindInSourceTree({"scripts/plot.py"}, "scripts/plot.py"); }

std::optional<int> DrawPlots(const std::string& runs, const std::string& out) {
  const std::string script = FindPlotScript();
  if (script.empty()) {
    spdlog::warn("plots skipped: scripts/plot.py not found (run from the source tree)");
    return std::nullopt;
  }
  if (::access(kPython, X_OK) != 0 || !Succeeds({kPython, "-c", "import matplotlib"})) {
    spdlog::warn("plots skipped: {} with matplotlib is not installed (apt-get install python3-matplotlib)", kPython);
    return std::nullopt;
  }
  if (!Succeeds({kPython, script, "--runs", runs, "--out", out})) {
    spdlog::warn("plots: {} failed; the tables are written", script);
    return std::nullopt;
  }
  int n = 0;
  for (const auto& e : fs::directory_iterator(out)) n += e.path().extension() == ".png";
  return n;
}

}  // namespace fas

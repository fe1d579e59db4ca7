// `fas tables`: the paper's tables from any folder of runs, beside the published numbers; plots as PNG.
#include <spdlog/spdlog.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <iostream>
#include <sstream>

#include "command.h"
#include "fas/core/error.h"
#include "fas/eval/tables.h"
#include "render_tables.h"

namespace fs = std::filesystem;

namespace fas::cli {

namespace {

// scripts/plot.py beside the working directory, or in a folder above the executable (a build inside the tree).
std::string FindPlotScript() {
  std::vector<fs::path> candidates = {fs::path("scripts") / "plot.py"};
  char exe[4096];
  const ssize_t len = ::readlink("/proc/self/exe", exe, sizeof(exe) - 1);
  if (len > 0) {
    exe[len] = '\0';
    for (fs::path p = fs::path(exe).parent_path(); !p.empty() && p != p.root_path(); p = p.parent_path()) {
      candidates.push_back(p / "scripts" / "plot.py");
    }
  }
  for (const auto& c : candidates) {
    std::error_code ec;
    if (fs::is_regular_file(c, ec)) return c.string();
  }
  return "";
}

// Runs argv with stdout discarded; returns the exit code (-1 when it could not run or died).
int Run(const std::vector<std::string>& argv) {
  std::vector<char*> args;
  for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  const pid_t pid = ::fork();
  if (pid < 0) return -1;
  if (pid == 0) {
    std::freopen("/dev/null", "w", stdout);
    ::execv(args[0], args.data());
    ::_exit(127);
  }
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0) {
  }
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

// Debian's python with matplotlib, named in full: another python3 (pyenv's) may come first on PATH.
constexpr const char* kPython = "/usr/bin/python3";

void Plot(const std::string& runs) {
  const std::string script = FindPlotScript();
  if (script.empty()) {
    spdlog::warn("plots skipped: scripts/plot.py not found (run from the source tree)");
    return;
  }
  if (::access(kPython, X_OK) != 0 || Run({kPython, "-c", "import matplotlib"}) != 0) {
    spdlog::warn("plots skipped: {} with matplotlib is not installed (apt-get install python3-matplotlib)", kPython);
    return;
  }
  const std::string out = (fs::path(runs) / "plots").string();
  if (Run({kPython, script, "--runs", runs, "--out", out}) != 0) {
    spdlog::warn("plots: {} failed; the tables are written", script);
    return;
  }
  int n = 0;
  for (const auto& e : fs::directory_iterator(out)) n += e.path().extension() == ".png";
  std::printf("plots: %s (%d PNG files)\n", out.c_str(), n);
}

std::vector<std::string> SplitList(const std::string& s) {
  std::vector<std::string> out;
  std::stringstream ss(s);
  for (std::string item; std::getline(ss, item, ',');) {
    if (!item.empty()) out.push_back(item);
  }
  return out;
}

RunFn Setup(CLI::App& app) {
  auto o = std::make_shared<RenderOptions>();
  auto formats = std::make_shared<std::string>("md,tex,csv");
  auto print = std::make_shared<std::string>();
  auto no_plots = std::make_shared<bool>(false);
  app.add_option("--runs", o->runs, "folder holding run directories (searched at any depth for results.json)")
      ->required();
  app.add_option("--format", *formats, "comma-separated: md, tex, csv")->capture_default_str();
  app.add_option("--out", o->out, "folder for the table files (default: RUNS/tables)");
  app.add_option("--published", o->published, "published numbers (default: configs/paper/published.yaml)");
  app.add_option("--print", *print, "tables to print, comma-separated (main, conflict, ablation, token_budget, "
                                    "queries; default: all)");
  app.add_flag("--no-plots", *no_plots, "do not draw the PNG plots");
  return [o, formats, print, no_plots] {
    o->formats = SplitList(*formats);
    o->print = SplitList(*print);
    o->plots = !*no_plots;
    RenderTables(*o);
  };
}

const bool kRegistered = RegisterCommand(
    {"tables", "render runs as the paper's tables (md, tex, csv) beside the published numbers, with plots", Setup});

}  // namespace

int RenderTables(const RenderOptions& options) {
  const std::vector<RunResult> results = CollectRunResults(options.runs);
  if (results.empty()) {
    throw IoError("no results.json under '" + options.runs + "' (a run writes eval/NAME/results.json when it "
                  "finishes; fas eval --run DIR --manifest M adds one)");
  }
  std::string published = options.published.empty() ? FindPublishedNumbers() : options.published;
  PublishedNumbers numbers;
  if (published.empty()) {
    spdlog::warn("configs/paper/published.yaml not found: tables without the paper's column (set --published)");
  } else {
    numbers = PublishedNumbers::Load(published);
  }
  const auto tables = BuildPaperTables(results, numbers);
  const std::string out = options.out.empty() ? (fs::path(options.runs) / "tables").string() : options.out;
  const auto files = WriteTables(tables, out, options.formats);
  for (const auto& name : options.print) {
    bool found = false;
    for (const auto& t : tables) {
      if (t.name != name) continue;
      std::cout << RenderMarkdown(t) << "\n";
      found = true;
    }
    if (!found) spdlog::warn("no '{}' table in these runs", name);
  }
  if (options.print.empty()) {
    for (const auto& t : tables) std::cout << RenderMarkdown(t) << "\n";
  }
  std::printf("tables: %s (%zu files from %zu results)\n", out.c_str(), files.size(), results.size());
  std::fflush(stdout);
  if (options.plots) Plot(options.runs);
  return static_cast<int>(results.size());
}

}  // namespace fas::cli

// `fas reproduce SUITE.yaml`: trains every unfinished cell of a suite (each in its own `fas train` process), then
// renders its tables and plots.
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <filesystem>

#include "command.h"
#include "fas/core/device.h"
#include "fas/core/error.h"
#include "fas/fusion/fusion.h"
#include "fas/suite/suite.h"
#include "render_tables.h"

namespace fs = std::filesystem;

namespace fas::cli {

namespace {

std::string SelfExecutable() {
  char exe[4096];
  const ssize_t len = ::readlink("/proc/self/exe", exe, sizeof(exe) - 1);
  if (len <= 0) throw Error("cannot find the fas executable (/proc/self/exe)");
  exe[len] = '\0';
  return exe;
}

RunFn Setup(CLI::App& app) {
  auto suite_file = std::make_shared<std::string>();
  auto runs_dir = std::make_shared<std::string>();
  auto sets = std::make_shared<std::vector<std::string>>();
  auto max_cells = std::make_shared<int64_t>(-1);
  auto check_only = std::make_shared<bool>(false);
  auto no_plots = std::make_shared<bool>(false);
  auto threads = std::make_shared<int>(0);
  auto skip_bad = std::make_shared<bool>(false);
  app.add_option("suite", *suite_file, "suite file, e.g. configs/suites/synth.yaml")->required();
  app.add_option("--runs-dir", *runs_dir, "where the runs go (default: runs/SUITE)");
  app.add_option("--set", *sets, "override a key of the suite: data.root=DIR, seeds=[1,2,3], ...");
  app.add_option("--max-cells", *max_cells, "train at most this many unfinished cells, then stop (resumable)");
  app.add_flag("--check", *check_only, "only check that the data and weights are there, and list the cells");
  app.add_flag("--no-plots", *no_plots, "do not draw the PNG plots");
  app.add_option("--train-threads", *threads, "intra-op threads of each training process (default: all cores)");
  app.add_flag("--skip-bad", *skip_bad, "every run skips bad manifest lines and unreadable audio (listed, not scored)");
  auto device = std::make_shared<std::string>();
  AddDeviceOption(app, *device);
  return [=] {
    const auto start = std::chrono::steady_clock::now();
    std::vector<std::string> suite_sets = *sets;
    if (*skip_bad) suite_sets.push_back("data.skip_bad=true");
    const SuiteConfig suite = LoadSuite(*suite_file, suite_sets);
    const std::string dir = runs_dir->empty() ? (fs::path("runs") / suite.name).string() : *runs_dir;
    const auto cells = PlanSuite(suite, dir);
    int finished = 0;
    for (const auto& c : cells) finished += CellFinished(c);
    std::printf("suite %s: %zu cells (%zu models x %zu seeds%s), %d finished, runs in %s\n", suite.name.c_str(),
                cells.size(), suite.models.size(), suite.seeds.size(), suite.sweeps.empty() ? "" : ", plus sweeps",
                finished, dir.c_str());
    std::fflush(stdout);
    if (*check_only) {
      // The whole matrix first, whatever is missing: what each cell trains and reads.
      for (const auto& c : cells) {
        const HeadStreams streams = FusionHeadStreams(c.config.model.head);
        const std::string encoders =
            (streams.acoustic ? c.config.model.acoustic.encoder.type : std::string()) +
            (streams.acoustic && streams.semantic ? " + " : "") +
            (streams.semantic ? c.config.model.semantic.type : std::string());
        std::printf("  %-32s seed %-6llu %-26s %s\n", c.run_name.c_str(), static_cast<unsigned long long>(c.seed),
                    encoders.c_str(), CellFinished(c) ? "finished" : c.run_dir.c_str());
      }
    }
    const auto problems = CheckSuiteInputs(suite, cells);
    if (!problems.empty()) {
      std::string msg = "suite '" + suite.name + "' cannot run; " + std::to_string(problems.size()) +
                        " input(s) missing:";
      for (const auto& p : problems) msg += "\n  - " + p;
      throw ConfigError(msg);
    }
    if (*check_only) {
      std::printf("suite %s: every input is there\n", suite.name.c_str());
      return;
    }
    SuiteRunOptions options;
    options.fas_binary = SelfExecutable();
    options.max_cells = *max_cells;
    if (*threads > 0) options.extra_args = {"--threads", std::to_string(*threads)};
    if (!device->empty()) {
      ValidateDeviceSpec(*device, "--device");
      options.extra_args.insert(options.extra_args.end(), {"--device", *device});
    }
    options.on_message = [&](const std::string& m) {
      const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
      std::printf("[%6.0f s] %s\n", s, m.c_str());
      std::fflush(stdout);
    };
    const SuiteRunSummary summary = RunSuite(cells, options);
    const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    std::printf("suite %s: trained %d cell(s) in %.0f s; %d of %d finished\n", suite.name.c_str(), summary.trained,
                seconds, summary.finished_before + summary.trained, summary.total);
    std::fflush(stdout);
    if (summary.finished_before + summary.trained == 0) return;
    RenderOptions render;
    render.runs = dir;
    render.print = {"conflict", "main", "comparisons"};
    for (const auto& pair : suite.comparisons) render.comparisons.push_back({pair[0], pair[1]});
    render.plots = !*no_plots;
    RenderTables(render);
    std::printf("runs: %s (one folder a model and seed: config.yaml, metrics.jsonl, checkpoints/, eval/)\n",
                dir.c_str());
  };
}

const bool kRegistered = RegisterCommand(
    {"reproduce", "run a suite (models x seeds x sweeps), skipping finished runs, then render its tables", Setup});

}  // namespace

}  // namespace fas::cli

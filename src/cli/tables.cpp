// `fas tables`: the paper's tables from any folder of runs, beside the published numbers; plots as PNG.
#include <fmt/ranges.h>
#include <spdlog/spdlog.h>

#include <cstdio>
#include <filesystem>
#include <iostream>
#include <sstream>

#include "command.h"
#include "fas/core/error.h"
#include "fas/eval/plots.h"
#include "fas/eval/tables.h"
#include "fas/suite/suite.h"
#include "render_tables.h"

namespace fs = std::filesystem;

namespace fas::cli {

namespace {

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
  auto suite = std::make_shared<std::string>();
  auto compare = std::make_shared<std::vector<std::string>>();
  app.add_option("--runs", o->runs, "folder holding run directories (searched at any depth for results.json)")
      ->required();
  app.add_option("--format", *formats, fmt::format("comma-separated: {}", fmt::join(TableFormatNames(), ", ")))
      ->capture_default_str();
  app.add_option("--out", o->out, "folder for the table files (default: RUNS/tables)");
  app.add_option("--published", o->published, "published numbers (default: configs/paper/published.yaml)");
  app.add_option(
      "--print", *print,
      fmt::format("tables to print, comma-separated ({}; default: all)", fmt::join(PaperTableKinds().names(), ", ")));
  app.add_flag("--no-plots", *no_plots, "do not draw the PNG plots");
  app.add_option("--suite", *suite, "suite file whose `comparisons:` the comparisons table tests");
  app.add_option("--compare", *compare,
                 "A,B: test model A against B (repeatable; wins over --suite; default: every model against fas)");
  return [o, formats, print, no_plots, suite, compare] {
    if (!suite->empty()) {
      for (const auto& pair : LoadSuite(*suite).comparisons) o->comparisons.push_back({pair[0], pair[1]});
    }
    if (!compare->empty()) o->comparisons.clear();
    for (const auto& pair : *compare) {
      const auto names = SplitList(pair);
      if (names.size() != 2) throw ConfigError("--compare '" + pair + "': give two model names, A,B");
      o->comparisons.push_back({names[0], names[1]});
    }
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
  TableOptions table_options;
  table_options.comparisons = options.comparisons;
  const auto tables = BuildTables(PaperTableKinds(), results, numbers, table_options);
  const std::string out = options.out.empty() ? (fs::path(options.runs) / "tables").string() : options.out;
  const auto files = WriteTables(tables, out, options.formats);
  for (const auto& name : options.print) {
    if (PaperTableKinds().Find(name) == nullptr) {
      spdlog::warn("no table kind '{}' (known: {})", name, fmt::join(PaperTableKinds().names(), ", "));
      continue;
    }
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
  if (options.plots) {
    const std::string plots = (fs::path(options.runs) / "plots").string();
    if (const auto n = DrawPlots(options.runs, plots)) std::printf("plots: %s (%d PNG files)\n", plots.c_str(), *n);
  }
  return static_cast<int>(results.size());
}

}  // namespace fas::cli

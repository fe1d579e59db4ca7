// What `fas tables` and `fas reproduce` share: render a folder of runs as the paper's tables (files under
// OUT, the chosen ones printed) and draw the plots with scripts/plot.py.
#pragma once

#include <string>
#include <vector>

#include "fas/eval/comparisons.h"

namespace fas::cli {

struct RenderOptions {
  std::string runs;                                  // folder of run directories (any depth)
  std::string out;                                   // tables folder; "" = RUNS/tables
  std::vector<std::string> formats = {"md", "tex", "csv"};
  std::string published;                             // "" = FindPublishedNumbers()
  std::vector<std::string> print;                    // tables printed on stdout in Markdown; empty = all
  bool plots = true;                                 // scripts/plot.py into RUNS/plots
  std::vector<ModelPair> comparisons;                // paired tests, A against B; empty = DefaultComparisons
};

// Renders, prints, plots; returns the number of results read. Throws Error when there are none.
int RenderTables(const RenderOptions& options);

}  // namespace fas::cli

// The statistics of the tables: a cell's mean ± std over seeds, the setting most runs share, a run's average over
// datasets, and which cells are best.
#pragma once

#include <functional>
#include <map>
#include <string>
#include <vector>

#include "fas/eval/run_results.h"
#include "fas/eval/table.h"

namespace fas {

// Mean and sample std over seeds of fractions (0-1), in percent.
SeedStats Aggregate(const std::vector<double>& fractions);

// A percentage as the tables print it: two decimals.
std::string FormatPercent(double v);
// A difference in points with its sign: +1.25, -0.40.
std::string FormatDelta(double v);
// A p-value: three decimals, or two significant digits in scientific notation below 0.001 (4.2e-05).
std::string FormatPValue(double p);

// The value of `key` most runs share (ties: the smallest), so that a sweep over one setting holds the others at
// what the suite's model uses.
template <class Key>
Key ModalValue(const std::vector<const RunResult*>& runs, const std::function<Key(const RunResult&)>& key) {
  std::map<Key, int> counts;
  for (const auto* r : runs) ++counts[key(*r)];
  Key best{};
  int most = -1;
  for (const auto& [k, n] : counts) {
    if (n > most) {
      best = k;
      most = n;
    }
  }
  return best;
}

// The average accuracy of each run over `datasets`, one value per run that was evaluated on all of them (for the
// sweeps, which compare runs rather than datasets).
std::vector<double> RunAverages(const std::vector<const RunResult*>& runs, const std::vector<std::string>& datasets);

// Marks the cells with the best mean (ties, equal as printed, all marked): in each kOurs column, or over all of
// them when the table is one comparison (Table::best_of_table). Needs two or more filled cells.
void MarkBest(Table& table);

}  // namespace fas

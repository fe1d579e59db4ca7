#include "fas/eval/table_stats.h"

#include <algorithm>
#include <cmath>
#include <cstdio>

namespace fas {

SeedStats Aggregate(const std::vector<double>& fractions) {
  SeedStats s;
  s.n = static_cast<int>(fractions.size());
  if (s.n == 0) return s;
  double sum = 0;
  for (double f : fractions) sum += 100.0 * f;
  s.mean = sum / s.n;
  if (s.n >= 2) {
    double ss = 0;
    for (double f : fractions) ss += (100.0 * f - s.mean) * (100.0 * f - s.mean);
    s.std = std::sqrt(ss / (s.n - 1));
  }
  return s;
}

std::string FormatPercent(double v) {
  char buf[32];
  std::snprintf(buf, sizeof(buf), "%.2f", v);
  return buf;
}

std::string FormatDelta(double v) {
  char buf[32];
  std::snprintf(buf, sizeof(buf), "%+.2f", v);
  return buf;
}

std::string FormatPValue(double p) {
  char buf[32];
  std::snprintf(buf, sizeof(buf), p >= 0.001 ? "%.3f" : "%.1e", p);
  return buf;
}

std::vector<double> RunAverages(const std::vector<const RunResult*>& runs, const std::vector<std::string>& datasets) {
  std::map<std::string, std::vector<double>> by_run;
  for (const auto* r : runs) {
    if (std::find(datasets.begin(), datasets.end(), r->dataset) != datasets.end()) by_run[r->run_dir].push_back(r->acc);
  }
  std::vector<double> out;
  for (const auto& [run, accs] : by_run) {
    if (accs.size() != datasets.size()) continue;
    double s = 0;
    for (double a : accs) s += a;
    out.push_back(s / static_cast<double>(accs.size()));
  }
  return out;
}

void MarkBest(Table& table) {
  std::vector<std::vector<std::pair<size_t, size_t>>> groups;
  if (table.best_of_table) groups.emplace_back();
  for (size_t c = 0; c < table.columns.size(); ++c) {
    if (table.columns[c].kind != TableColumn::Kind::kOurs) continue;
    if (!table.best_of_table) groups.emplace_back();
    for (size_t r = 0; r < table.rows.size(); ++r) {
      if (table.rows[r][c].kind == TableCell::Kind::kStats) groups.back().emplace_back(r, c);
    }
  }
  for (const auto& g : groups) {
    if (g.size() < 2) continue;
    const bool lower = table.columns[g.front().second].lower_is_better;
    double best = lower ? INFINITY : -INFINITY;
    for (const auto& [r, c] : g) {
      const double v = table.rows[r][c].stats.mean;
      best = lower ? std::min(best, v) : std::max(best, v);
    }
    // Equal as printed counts as a tie.
    for (const auto& [r, c] : g) {
      table.rows[r][c].best = FormatPercent(table.rows[r][c].stats.mean) == FormatPercent(best);
    }
  }
}

}  // namespace fas

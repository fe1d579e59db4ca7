#include "fas/eval/table_registry.h"

#include <algorithm>
#include <set>

#include "fas/core/error.h"
#include "fas/eval/table_stats.h"

namespace fas {

namespace {

bool AnyUnsure(const Table& t) {
  for (const auto& row : t.rows) {
    for (const auto& c : row) {
      if (c.unsure) return true;
    }
  }
  return false;
}

int MaxSeeds(const Table& t) {
  int n = 0;
  for (const auto& row : t.rows) {
    for (const auto& c : row) {
      if (c.kind == TableCell::Kind::kStats) n = std::max(n, c.stats.n);
    }
  }
  return n;
}

bool AnyBest(const Table& t) {
  for (const auto& row : t.rows) {
    for (const auto& c : row) {
      if (c.best) return true;
    }
  }
  return false;
}

}  // namespace

void TableRegistry::Register(TableKind kind) {
  if (Find(kind.name) != nullptr) throw Error("table kind '" + kind.name + "' is registered twice");
  kinds_.push_back(std::move(kind));
}

const TableKind* TableRegistry::Find(const std::string& name) const {
  for (const auto& k : kinds_) {
    if (k.name == name) return &k;
  }
  return nullptr;
}

std::vector<std::string> TableRegistry::names() const {
  std::vector<std::string> out;
  for (const auto& k : kinds_) out.push_back(k.name);
  return out;
}

std::vector<Table> BuildTables(const TableRegistry& registry, const std::vector<RunResult>& results,
                               const PublishedNumbers& published, const TableOptions& options) {
  std::vector<const RunResult*> all, models;
  std::set<std::string> names;
  for (const auto& r : results) {
    all.push_back(&r);
    if (!IsSweepCell(r.model)) {
      models.push_back(&r);
      names.insert(r.model);
    }
  }
  TableInputs inputs{published, {}, "", options.comparison};
  std::vector<std::string> ordered(names.begin(), names.end());
  SortModels(ordered);
  const auto pairs = options.comparisons.empty() ? DefaultComparisons(ordered) : options.comparisons;
  if (!pairs.empty()) {
    inputs.reference = pairs.front().a;
    inputs.comparisons = CompareModels(models, pairs, options.comparison);
  }
  std::vector<Table> tables;
  for (const auto& kind : registry.kinds()) {
    const auto& runs = kind.runs == TableKind::Runs::kAll ? all : models;
    if (runs.empty()) continue;
    if (auto t = kind.build(runs, inputs)) tables.push_back(std::move(*t));
  }
  for (auto& t : tables) {
    MarkBest(t);
    if (const int seeds = MaxSeeds(t); seeds >= 2) {
      t.notes.push_back("Ours: mean ± standard deviation over seeds (up to " + std::to_string(seeds) + ").");
    }
    if (AnyUnsure(t)) t.notes.push_back("?: the sources of the paper's numbers disagree on this value or its label.");
    if (AnyBest(t)) t.notes.push_back(t.best_of_table ? "Best cell in bold." : "Best of ours per column in bold.");
  }
  return tables;
}

std::vector<Table> BuildPaperTables(const std::vector<RunResult>& results, const PublishedNumbers& published) {
  return BuildTables(PaperTableKinds(), results, published);
}

}  // namespace fas

// Table kinds: each kind registers once, by name, with the function that builds it; building, the CLI's --print
// and its help ask the registry which kinds exist.
#pragma once

#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "fas/eval/paper.h"
#include "fas/eval/run_results.h"
#include "fas/eval/table.h"

namespace fas {

struct TableKind {
  // The runs a kind is built from: the suite's models (sweep cells, MODEL@CELL, left out), or every run.
  enum class Runs { kModels, kAll };
  using Builder = std::function<std::optional<Table>(const std::vector<const RunResult*>&, const PublishedNumbers&)>;

  std::string name;  // the table's name and file stem
  Runs runs = Runs::kModels;
  Builder build;  // nullopt when the runs have nothing to show in this table
};

class TableRegistry {
 public:
  // Adds a kind; a name registered twice is an Error.
  void Register(TableKind kind);
  const TableKind* Find(const std::string& name) const;
  const std::vector<TableKind>& kinds() const { return kinds_; }  // in registration order
  std::vector<std::string> names() const;

 private:
  std::vector<TableKind> kinds_;
};

// The paper's tables, in the order they are printed: main, conflict, ablation, token_budget, queries.
const TableRegistry& PaperTableKinds();

// Every kind of `registry` that has something to show, the best cells marked and the standard notes added (seeds,
// disputed published numbers, what bold means).
std::vector<Table> BuildTables(const TableRegistry& registry, const std::vector<RunResult>& results,
                               const PublishedNumbers& published);

// BuildTables of the paper's kinds. The token-budget grid needs two or more (k_aco, k_sem) cells, the query sweep
// two or more N_q values.
std::vector<Table> BuildPaperTables(const std::vector<RunResult>& results, const PublishedNumbers& published);

}  // namespace fas

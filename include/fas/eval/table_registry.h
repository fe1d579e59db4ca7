// Table kinds: each kind registers once, by name, with the function that builds it; building, the CLI's --print
// and its help ask the registry which kinds exist.
#pragma once

#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "fas/eval/comparisons.h"
#include "fas/eval/paper.h"
#include "fas/eval/run_results.h"
#include "fas/eval/table.h"

namespace fas {

// What a builder reads besides its runs: the published numbers and the paired comparisons of the runs.
struct TableInputs {
  PublishedNumbers published;
  std::vector<Comparison> comparisons;  // on every set, in set order (CompareModels)
  std::string reference;                // the model the main table's marks compare with ("" when none)
  ComparisonOptions comparison;         // how they were computed (for the notes)
};

// What `fas tables` may choose: the comparisons (empty: DefaultComparisons of the runs' models) and their settings.
struct TableOptions {
  std::vector<ModelPair> comparisons;
  ComparisonOptions comparison;
};

struct TableKind {
  // The runs a kind is built from: the suite's models (sweep cells, MODEL@CELL, left out), or every run.
  enum class Runs { kModels, kAll };
  using Builder = std::function<std::optional<Table>(const std::vector<const RunResult*>&, const TableInputs&)>;

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

// The paper's tables and the comparisons, in the order they are printed: datasets, main, conflict, comparisons,
// ablation, token_budget, queries.
const TableRegistry& PaperTableKinds();

// Every kind of `registry` that has something to show, the best cells marked and the standard notes added (seeds,
// disputed published numbers, what bold means). The comparisons are computed first, over the suite's models (sweep
// cells left out), from the runs' predictions; the reference is the first pair's A.
std::vector<Table> BuildTables(const TableRegistry& registry, const std::vector<RunResult>& results,
                               const PublishedNumbers& published, const TableOptions& options = {});

// BuildTables of the paper's kinds. The token-budget grid needs two or more (k_aco, k_sem) cells, the query sweep
// two or more N_q values.
std::vector<Table> BuildPaperTables(const std::vector<RunResult>& results, const PublishedNumbers& published);

}  // namespace fas

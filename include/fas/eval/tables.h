// The paper's tables rebuilt from run folders: every eval/NAME/results.json under a folder (with its run's
// config.yaml), aggregated over seeds as mean ± std, the best per column marked, and the published numbers of
// configs/paper/published.yaml in a column beside ours wherever the paper has the same cell.
//
// Identity of a result: the run's name (config.yaml `name`; results.json `model` when the run has no config),
// the dataset (results.json `dataset`, the eval NAME) and the seed. A run named MODEL@CELL is a sweep cell of
// MODEL (what `fas reproduce` writes): it feeds the token-budget grid and the query sweep, not the other tables.
//
// Datasets: case, emo-emilia, emovo, emodb, emis, aspire and the synthetic `conflict` set are zero-shot; every other
// name is in-domain. The synthetic `conflict` set stands where the paper has CASE (its published column shows the
// CASE numbers, headed "paper (CASE)"); the synthetic `test` set stands with the in-domain corpora.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <tuple>
#include <vector>

#include "fas/config/node.h"

namespace fas {

// One evaluation of one run. Figures are fractions (0-1), as results.json holds them.
struct RunResult {
  std::string path;     // the results.json
  std::string run_dir;  // the folder holding eval/ (and config.yaml, metrics.jsonl)
  std::string model;    // row identity (see above)
  std::string head;     // model.head of the run's config ("" when unknown)
  std::string dataset;
  uint64_t seed = 0;
  int64_t n = 0;
  double acc = 0, ua = 0, macro_f1 = 0, weighted_f1 = 0;
  int64_t conflict_n = 0, congruent_n = 0;
  std::optional<double> conflict_acc, congruent_acc, semantic_bias_rate;
  std::optional<int64_t> trainable_parameters;  // results.json `trainable_parameters`, when written
  std::map<std::string, double> fusion;         // model.fusion.{k_aco, k_sem, num_queries} of the run's config
};

// Reads one results.json (and the config.yaml two folders up, when present). Throws DataError / IoError naming
// the file on a missing or malformed field.
RunResult ReadRunResult(const std::string& results_json);

// Every results.json below `dir` (any depth), sorted by path. A malformed file is an error naming it.
std::vector<RunResult> CollectRunResults(const std::string& dir);

// The published numbers (configs/paper/published.yaml), as percentages.
class PublishedNumbers {
 public:
  PublishedNumbers() = default;
  explicit PublishedNumbers(ConfigNode root) : root_(std::move(root)) {}
  static PublishedNumbers Load(const std::string& path);

  // Main table: row (our model name, lower-cased), column (case | meld | ravdess | esd), metric (acc | f1).
  std::optional<double> Main(const std::string& model, const std::string& column, const std::string& metric) const;
  // FAS's zero-shot accuracy beyond CASE (emo-emilia, emovo, emodb).
  std::optional<double> ZeroShot(const std::string& model, const std::string& column) const;
  // Fusion ablation: CASE accuracy and trainable parameters.
  std::optional<double> AblationCaseAcc(const std::string& model) const;
  std::optional<double> AblationParams(const std::string& model) const;
  bool Unsure(const std::string& section, const std::string& model) const;  // `unsure: true` on a row
  // Token budget: the published optimum (k_aco, k_sem, average ACC).
  std::optional<std::tuple<int, int, double>> TokenBudgetBest() const;
  // Query sweep: CASE ACC by N_q.
  std::optional<double> QueriesCaseAcc(int num_queries) const;
  bool empty() const { return root_.kind == ConfigNode::Kind::kNull; }

 private:
  const ConfigNode* At(const std::vector<std::string>& keys) const;
  ConfigNode root_;
};

// configs/paper/published.yaml: $FAS_CONFIG_DIR/paper, ./configs/paper, then the folders above the running
// executable (a build folder inside the source tree). "" when none exists.
std::string FindPublishedNumbers();

// The paper column a dataset is compared with ("" when none): itself for the paper's corpora, case for the
// synthetic conflict set.
std::string PaperColumn(const std::string& dataset);
bool IsZeroShot(const std::string& dataset);

// Mean and sample standard deviation (n - 1) of one cell over seeds, in percent.
struct SeedStats {
  double mean = 0, std = 0;
  int n = 0;
};
SeedStats Aggregate(const std::vector<double>& fractions);

// A rendered table: columns of one kind each, rows of cells.
struct TableCell {
  enum class Kind { kEmpty, kStats, kNumber, kText };
  Kind kind = Kind::kEmpty;
  SeedStats stats;    // kStats (percent)
  double number = 0;  // kNumber: a published percentage, or a parameter count
  std::string text;   // kText
  bool best = false;
  bool unsure = false;  // a published number the sources disagree on
};

struct TableColumn {
  enum class Kind { kLabel, kOurs, kPaper, kParams };
  std::string header;
  Kind kind = Kind::kOurs;
  bool lower_is_better = false;  // semantic bias rate
};

struct Table {
  std::string name;   // file stem: main, ablation, token_budget, queries, conflict
  std::string title;
  std::vector<TableColumn> columns;
  std::vector<std::vector<TableCell>> rows;  // rows[r][c]; column 0 is the row label
  std::vector<std::string> notes;            // printed under the table
};

// Marks, in each kOurs column, the cells with the best mean (ties all marked). Needs two or more filled cells.
void MarkBest(Table& table);

// The paper's layouts from a set of results; tables with nothing to show are left out (the token-budget grid
// needs two or more (k_aco, k_sem) cells, the query sweep two or more N_q values).
std::vector<Table> BuildPaperTables(const std::vector<RunResult>& results, const PublishedNumbers& published);

std::string RenderMarkdown(const Table& table);
std::string RenderLatex(const Table& table);
// Long form, one line a cell: table,row,column,kind,mean,std,n,best (kind: ours | paper | params).
std::string RenderCsv(const Table& table);

// Writes DIR/NAME.{md,tex,csv} for each format asked (md, tex, csv); returns the files written.
std::vector<std::string> WriteTables(const std::vector<Table>& tables, const std::string& dir,
                                     const std::vector<std::string>& formats);

}  // namespace fas

// Collecting what runs left behind for the tables: every eval/NAME/results.json under a folder, each joined with
// its run's RunInfo (run.json; config.yaml for runs older than it).
//
// Identity of a result: the run's name (run.json / config.yaml `name`; results.json `model` when the run has
// neither), the dataset (results.json `dataset`, the eval NAME) and the seed. A run named MODEL@CELL is a sweep
// cell of MODEL (what `fas reproduce` writes): it feeds the token-budget grid and the query sweep, not the other
// tables.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace fas {

// One evaluation of one run. Figures are fractions (0-1), as results.json holds them.
struct RunResult {
  std::string path;     // the results.json
  std::string run_dir;  // the folder holding eval/ (and run.json or config.yaml, metrics.jsonl)
  std::string model;    // row identity (see above)
  std::string head;     // model.head of the run ("" when unknown)
  std::string dataset;
  uint64_t seed = 0;
  int64_t n = 0;
  double acc = 0, ua = 0, macro_f1 = 0, weighted_f1 = 0;
  int64_t conflict_n = 0, congruent_n = 0;
  std::optional<double> conflict_acc, congruent_acc, semantic_bias_rate;
  std::optional<int64_t> trainable_parameters;  // results.json `trainable_parameters`, when written
  std::map<std::string, double> fusion;         // numeric model.fusion settings (the sweeps vary k_aco, k_sem, N_q)
};

// Reads one results.json and its run's RunInfo (run.json or config.yaml two folders up, when present). Throws
// DataError / IoError naming the file on a missing or malformed field.
RunResult ReadRunResult(const std::string& results_json);

// Every results.json below `dir` (any depth), sorted by path; each run's RunInfo is read once. A malformed file is
// an error naming it.
std::vector<RunResult> CollectRunResults(const std::string& dir);

// The base model of a run name: `fas` of `fas@k_aco4`.
std::string BaseModel(const std::string& model);
// Whether a run name is a sweep cell (MODEL@CELL).
bool IsSweepCell(const std::string& model);

}  // namespace fas

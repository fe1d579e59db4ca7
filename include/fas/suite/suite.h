// A suite: the matrix behind a table (models × seeds, plus optional sweeps of the fusion sizes), trained and
// evaluated cell by cell into a deterministic layout, skipping cells that already have their results, so that an
// interrupted suite resumes where it stopped. `fas reproduce SUITE.yaml` runs one; `fas tables` renders it.
//
//   name: synth
//   data: {root: data/corpus, train: train.jsonl, dev: dev.jsonl, hint: "fas synth ... --out {root}"}
//   eval: [{name: test, manifest: test.jsonl}, {name: conflict, manifest: conflict.jsonl}]
//   seeds: [1, 2]
//   set: [train.max_steps=300]            # --set assignments for every run
//   models:
//     - {name: fas, config: [configs/models/fas.yaml], set: []}
//   sweeps:
//     - {name: token_budget, model: fas, grid: {model.fusion.k_aco: [4, 8, 16], model.fusion.k_sem: [8, 16, 32]}}
//   comparisons: [[fas, concat], [fas, acoustic_only]]   # the tables' paired tests, A against B
//
// Layout under the runs folder: MODEL/seedK for a model, MODEL/CELL/seedK for a sweep cell (CELL such as
// k_aco4-k_sem16). A sweep run is named MODEL@CELL (how the tables tell it from the model's own runs); a cell
// whose settings are the model's own is not trained again: the model's run stands for it.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "fas/tasks/ser/experiment_config.h"

namespace fas {

struct SuiteData {
  std::string root;  // corpus folder the manifests are relative to (data.root of every run)
  std::string train = "train.jsonl";
  std::string dev = "dev.jsonl";
  std::string label_map;  // data.label_map of every run ("" = keep what the model configs say)
  std::string hint;       // what to do when the data is missing; {root} is replaced by the root
  bool skip_bad = false;  // data.skip_bad of every run: bad manifest lines and unreadable audio listed, left out

  template <class V>
  void Visit(V& v) {
    v("root", root, "corpus folder (manifests are relative to it)");
    v("train", train, "training manifest");
    v("dev", dev, "dev manifest");
    v("label_map", label_map, "label map of the training corpus (file or corpus name)");
    v("hint", hint, "how to get the data when it is missing ({root} = the root)");
    v("skip_bad", skip_bad, "every run skips (and lists) bad manifest lines and unreadable audio");
  }
};

struct SuiteModel {
  std::string name;                 // row name in the tables, folder under the runs folder
  std::vector<std::string> config;  // experiment config files (relative to the suite file), later ones win
  std::vector<std::string> set;     // --set assignments for this model only

  template <class V>
  void Visit(V& v) {
    v("name", name, "the model's name in tables and folders");
    v("config", config, "experiment config files, relative to the suite file");
    v("set", set, "key=value overrides for this model");
  }
};

struct SuiteSweep {
  std::string name;   // token_budget, queries, ...
  std::string model;  // a models[].name
  std::map<std::string, std::vector<std::string>> grid;  // dotted key -> values; the cells are the product

  template <class V>
  void Visit(V& v) {
    v("name", name);
    v("model", model, "the model whose settings are varied");
    v("grid", grid, "dotted config key -> list of values (all combinations are trained)");
  }
};

struct SuiteConfig {
  std::string name = "suite";
  std::string description;
  SuiteData data;
  std::vector<EvalSetConfig> eval;
  std::vector<uint64_t> seeds = {42};
  std::vector<std::string> set;
  std::vector<SuiteModel> models;
  std::vector<SuiteSweep> sweeps;
  std::vector<std::vector<std::string>> comparisons;  // [A, B] pairs of models[].name

  template <class V>
  void Visit(V& v) {
    v("name", name, "suite name (the default runs folder is runs/NAME)");
    v("description", description);
    v("data", data);
    v("eval", eval, "evaluation sets: name (the dataset in the tables) and manifest");
    v("seeds", seeds, "every model and sweep cell is trained once per seed");
    v("set", set, "key=value overrides applied to every run");
    v("models", models);
    v("sweeps", sweeps);
    v("comparisons", comparisons,
      "[A, B] pairs of models the tables test against each other (default: every model against fas)");
  }
  void Validate() const;  // throws ConfigError naming the bad field
};

// Loads a suite file; relative model config paths become relative to the suite file's folder (or, when no such
// file exists there, to the working directory). `sets` are --set assignments on the suite itself (data.root=...).
SuiteConfig LoadSuite(const std::string& path, const std::vector<std::string>& sets = {});

// One run of the suite.
struct SuiteCell {
  std::string model;     // the suite's model name
  std::string sweep;     // "" for the model's own runs
  std::string cell;      // sweep cell folder name (k_aco4-k_sem16); "" for the model's own runs
  std::string run_name;  // MODEL or MODEL@CELL
  uint64_t seed = 0;
  std::string run_dir;
  std::vector<std::string> config_files;
  std::vector<std::string> sets;  // everything set on top of the files, in order
  ExperimentConfig config;        // resolved
};

// Every cell in order (models × seeds, then each sweep's cells × seeds), with sweep cells equal to the model's
// own settings left out. Throws ConfigError (naming the model and its files) on a config that does not load.
std::vector<SuiteCell> PlanSuite(const SuiteConfig& suite, const std::string& runs_dir);

// Whether a cell has the results.json of every evaluation set.
bool CellFinished(const SuiteCell& cell);

// How a cell's run folder was trained differently from what the suite now says: "" when it has no run yet or the
// same resolved config (evaluation sets and a tokenizer the run trained for itself aside), else the first line
// that differs. RunSuite refuses a suite with such a cell.
std::string CellConfigDrift(const SuiteCell& cell);

// Everything a suite needs that is not there (manifests, audio files, weights, tokenizers, label files), one
// message a problem: which path, which config, what to do. Empty when all is present.
std::vector<std::string> CheckSuiteInputs(const SuiteConfig& suite, const std::vector<SuiteCell>& cells);

struct SuiteRunOptions {
  std::string fas_binary;  // the `fas` executable each cell's training runs in
  int64_t max_cells = -1;  // stop after training this many cells (-1 = all)
  std::vector<std::string> extra_args;  // passed to every `fas train` (e.g. --threads 2)
  std::function<void(const std::string&)> on_message;  // progress lines ("cell 3/9: ...")
};

struct SuiteRunSummary {
  int total = 0, finished_before = 0, trained = 0;
  bool complete = false;  // every cell has its results
};

// Trains (or resumes) every unfinished cell in its own `fas train` process, in order. Throws Error naming the cell
// and its train.log when a run fails, Interrupted when a run was stopped by a signal (its checkpoint is kept, and
// the next `fas reproduce` resumes it).
SuiteRunSummary RunSuite(const std::vector<SuiteCell>& cells, const SuiteRunOptions& options);

}  // namespace fas

// The files an evaluation leaves in a run directory: eval/NAME/results.json (metrics, docs/design.md) and
// eval/NAME/predictions.jsonl (one line an utterance), both written atomically.
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "fas/eval/metrics.h"

namespace fas {

struct LabelMapReport;

struct ResultsInfo {
  std::string model;     // the head / config name
  std::string dataset;   // the evaluation's NAME (e.g. test, conflict, or a corpus)
  std::string manifest;  // path of the evaluated manifest
  std::string run;       // run directory
  uint64_t seed = 0;
  nlohmann::json label_map = nlohmann::json::object();  // what was mapped or dropped (LabelMapJson)
  // For the paper's tables (fas tables): the model's trainable parameter count, written when known (>= 0).
  int64_t trainable_parameters = -1;
  // Manifest lines and utterances left out by skip_bad (never scored), written when > 0.
  int64_t skipped = 0;
  // The checkpoint evaluated and the rule that chose it ("best by dev ua", "last"), written when known.
  std::string checkpoint, selected_by;
};

// {"kept", "mapped": {"exc->happy": n}, "dropped": {...}} of a label map applied to the evaluated manifest.
nlohmann::json LabelMapJson(const LabelMapReport& report);

// results.json's content: n, acc, ua, macro_f1, weighted_f1, labels, confusion, per_class, conflict and congruent
// (same figures, plus semantic_bias_rate under conflict), model, dataset, manifest, seed, label_map, and
// trainable_parameters when known, and `skipped` / `unlabelled` (utterances not scored) when > 0.
nlohmann::json ResultsJson(const EvalMetrics& metrics, const ResultsInfo& info);

// A predictions.jsonl line, keys in this order: id, label, pred, probs ({class: p} in label-set order), and
// text_label, conflict and acoustic_share where known.
nlohmann::ordered_json PredictionJson(const Prediction& p, const std::vector<std::string>& label_order);

// Computes the metrics and writes DIR/predictions.jsonl and, when at least one prediction is labelled,
// DIR/results.json (DIR created; a results.json of an earlier evaluation is removed when there is nothing to
// score). Returns the metrics.
EvalMetrics WriteEvaluation(const std::string& dir, const std::vector<Prediction>& predictions,
                            const std::vector<std::string>& label_order, const ResultsInfo& info);

// The confusion matrix as an aligned text table (rows truth, columns prediction), for the terminal.
std::string FormatConfusion(const ClassificationMetrics& m);

}  // namespace fas

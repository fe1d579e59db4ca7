// Classification metrics exactly as docs/design.md ("Metrics") defines them: over `labels` = the classes present
// in truth or prediction, acc, ua (mean recall over the classes present in the truth), macro / weighted F1 as
// scikit-learn's f1_score, the confusion matrix (rows truth, columns prediction), and the conflict / congruent
// breakdown with the semantic bias rate.
#pragma once

#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

namespace fas {

// One scored utterance. Labels are class names of the label set the model predicts over.
struct Prediction {
  std::string id;
  std::string label;       // truth (the voice's emotion)
  std::string pred;
  std::vector<double> probs;  // in label-set order
  std::string text_label;     // the words' emotion; "" when unknown
  std::optional<bool> conflict;          // as the manifest says; derived from label / text_label when absent
  std::optional<double> acoustic_share;  // attention mass on acoustic tokens, when the head has one

  // The manifest's flag, or label != text_label when both are known; nullopt when neither says.
  std::optional<bool> IsConflict() const;
};

struct ClassScores {
  std::string label;
  double precision = 0, recall = 0, f1 = 0;
  int64_t support = 0;  // true count
};

struct ClassificationMetrics {
  int64_t n = 0;
  double acc = 0, ua = 0, macro_f1 = 0, weighted_f1 = 0;
  std::vector<std::string> labels;                // classes present in truth or prediction, label-set order
  std::vector<std::vector<int64_t>> confusion;    // [truth][pred] over `labels`
  std::vector<ClassScores> per_class;             // over `labels`
};

// Metrics over (truth, prediction) pairs; `label_order` fixes the order of `labels` (the label set). A name not
// in `label_order` is a DataError. n = 0 gives n = 0 and zeros.
ClassificationMetrics ComputeMetrics(const std::vector<std::string>& truth, const std::vector<std::string>& pred,
                                     const std::vector<std::string>& label_order);

struct EvalMetrics {
  ClassificationMetrics all;
  ClassificationMetrics conflict;   // over utterances whose IsConflict() is true
  ClassificationMetrics congruent;  // ... false
  // Among conflict utterances with a known text_label, the fraction predicted as that text_label.
  std::optional<double> semantic_bias_rate;
  int64_t semantic_bias_n = 0;  // its denominator
  int64_t unlabelled = 0;       // predictions without a label (empty `label`): in no figure above
};

// Scores the labelled predictions; one with an empty `label` is counted in `unlabelled` and scored nowhere.
EvalMetrics Evaluate(const std::vector<Prediction>& predictions, const std::vector<std::string>& label_order);

nlohmann::json ToJson(const ClassificationMetrics& m);

}  // namespace fas

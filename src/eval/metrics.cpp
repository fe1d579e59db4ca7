#include "fas/eval/metrics.h"

#include <map>

#include "fas/core/error.h"

namespace fas {

std::optional<bool> Prediction::IsConflict() const {
  if (conflict.has_value()) return conflict;
  if (!label.empty() && !text_label.empty()) return label != text_label;
  return std::nullopt;
}

namespace {

int IndexIn(const std::map<std::string, int>& index, const std::string& name, const char* what) {
  const auto it = index.find(name);
  if (it == index.end()) throw DataError(std::string(what) + " '" + name + "' is not in the model's label set");
  return it->second;
}

// scikit-learn's zero_division behaviour: a ratio with a zero denominator counts as 0.
double Ratio(double num, double den) { return den > 0 ? num / den : 0.0; }

}  // namespace

ClassificationMetrics ComputeMetrics(const std::vector<std::string>& truth, const std::vector<std::string>& pred,
                                     const std::vector<std::string>& label_order) {
  if (truth.size() != pred.size()) {
    throw DataError("metrics: " + std::to_string(truth.size()) + " truths but " + std::to_string(pred.size()) +
                    " predictions");
  }
  std::map<std::string, int> order;
  for (size_t i = 0; i < label_order.size(); ++i) order[label_order[i]] = static_cast<int>(i);
  const size_t C = label_order.size();
  std::vector<std::vector<int64_t>> full(C, std::vector<int64_t>(C, 0));
  for (size_t i = 0; i < truth.size(); ++i) {
    ++full[IndexIn(order, truth[i], "label")][IndexIn(order, pred[i], "prediction")];
  }

  ClassificationMetrics m;
  m.n = static_cast<int64_t>(truth.size());
  std::vector<size_t> present;
  for (size_t c = 0; c < C; ++c) {
    int64_t row = 0, col = 0;
    for (size_t j = 0; j < C; ++j) row += full[c][j], col += full[j][c];
    if (row + col > 0) present.push_back(c);
  }
  int64_t correct = 0, truth_classes = 0;
  double recall_sum = 0, f1_sum = 0, weighted_sum = 0;
  for (size_t c : present) {
    int64_t support = 0, predicted = 0;
    for (size_t j = 0; j < C; ++j) support += full[c][j], predicted += full[j][c];
    const int64_t tp = full[c][c];
    correct += tp;
    ClassScores s;
    s.label = label_order[c];
    s.support = support;
    s.precision = Ratio(tp, predicted);
    s.recall = Ratio(tp, support);
    s.f1 = Ratio(2.0 * tp, static_cast<double>(support + predicted));
    if (support > 0) ++truth_classes, recall_sum += s.recall;
    f1_sum += s.f1;
    weighted_sum += s.f1 * support;
    m.per_class.push_back(s);
    m.labels.push_back(s.label);
    std::vector<int64_t> row;
    for (size_t j : present) row.push_back(full[c][j]);
    m.confusion.push_back(row);
  }
  m.acc = Ratio(correct, m.n);
  m.ua = Ratio(recall_sum, truth_classes);
  m.macro_f1 = Ratio(f1_sum, present.size());
  m.weighted_f1 = Ratio(weighted_sum, m.n);
  return m;
}

EvalMetrics Evaluate(const std::vector<Prediction>& predictions, const std::vector<std::string>& label_order) {
  std::vector<std::string> t_all, p_all, t_conf, p_conf, t_cong, p_cong;
  EvalMetrics e;
  int64_t biased = 0;
  for (const auto& p : predictions) {
    if (p.label.empty()) {
      ++e.unlabelled;
      continue;
    }
    t_all.push_back(p.label);
    p_all.push_back(p.pred);
    const auto conflict = p.IsConflict();
    if (!conflict.has_value()) continue;
    (*conflict ? t_conf : t_cong).push_back(p.label);
    (*conflict ? p_conf : p_cong).push_back(p.pred);
    if (*conflict && !p.text_label.empty()) {
      ++e.semantic_bias_n;
      biased += p.pred == p.text_label;
    }
  }
  e.all = ComputeMetrics(t_all, p_all, label_order);
  e.conflict = ComputeMetrics(t_conf, p_conf, label_order);
  e.congruent = ComputeMetrics(t_cong, p_cong, label_order);
  if (e.semantic_bias_n > 0) e.semantic_bias_rate = static_cast<double>(biased) / e.semantic_bias_n;
  return e;
}

nlohmann::json ToJson(const ClassificationMetrics& m) {
  nlohmann::json j;
  j["n"] = m.n;
  j["acc"] = m.acc;
  j["ua"] = m.ua;
  j["macro_f1"] = m.macro_f1;
  j["weighted_f1"] = m.weighted_f1;
  j["labels"] = m.labels;
  j["confusion"] = m.confusion;
  nlohmann::json per = nlohmann::json::object();
  for (const auto& s : m.per_class) {
    per[s.label] = {{"precision", s.precision}, {"recall", s.recall}, {"f1", s.f1}, {"support", s.support}};
  }
  j["per_class"] = per;
  return j;
}

}  // namespace fas

// What the paper fixes for its tables: its corpora (zero-shot or in-domain) and their order and spelling, the
// order of its model rows, and its published numbers (configs/paper/published.yaml).
//
// Datasets: case, emo-emilia, emovo, emodb, emis, aspire and the synthetic `conflict` set are zero-shot; every other
// name is in-domain. The synthetic `conflict` set stands where the paper has CASE (its published column shows the
// CASE numbers, headed "paper (CASE)"); the synthetic `test` set stands with the in-domain corpora.
#pragma once

#include <optional>
#include <string>
#include <tuple>
#include <vector>

#include "fas/config/node.h"

namespace fas {

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
  // The paper's average ACC of a model: `in_domain` (MELD, RAVDESS, ESD) or `zero_shot` (CASE, Emo-Emilia, EMOVO,
  // EmoDB).
  std::optional<double> Average(const std::string& model, const std::string& which) const;
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
// The paper's spelling of a corpus (EmoDB, Emo-Emilia); other names as they are.
std::string DisplayDataset(const std::string& dataset);

// Datasets in the paper's column order: zero-shot first, then in-domain, then names it does not have.
void SortDatasets(std::vector<std::string>& datasets);
// Models in the paper's row order: names it does not have first (alphabetically), baselines and ablations, FAS last.
void SortModels(std::vector<std::string>& models);

}  // namespace fas

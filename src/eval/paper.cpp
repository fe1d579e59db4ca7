#include "fas/eval/paper.h"

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <map>
#include <set>

#include "config_tree.h"
#include "source_tree.h"

namespace fs = std::filesystem;

namespace fas {

namespace {

// The paper's corpora in the order its tables list them, zero-shot first (as the main table does).
const std::vector<std::string> kZeroShot = {"case", "conflict", "emo-emilia", "emovo", "emodb", "emis", "aspire"};
const std::vector<std::string> kInDomain = {"meld", "ravdess", "esd", "iemocap", "mosei", "mer2024", "test"};
// Our models in the order the paper lists its rows: baselines and ablations first, FAS last.
const std::vector<std::string> kModelOrder = {
    "acoustic_only",     "semantic_only",      "concat", "gated", "late_fusion", "cross_attention",
    "fas_random_select", "fas_full_attention", "fas"};

std::string Lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return s;
}

int RankIn(const std::vector<std::string>& order, const std::string& name) {
  const auto it = std::find(order.begin(), order.end(), Lower(name));
  return it == order.end() ? -1 : static_cast<int>(it - order.begin());
}

std::optional<double> AsNumber(const ConfigNode* n) {
  if (n == nullptr || n->kind != ConfigNode::Kind::kScalar) return std::nullopt;
  try {
    return std::stod(n->scalar);
  } catch (const std::exception&) {
    return std::nullopt;
  }
}

}  // namespace

PublishedNumbers PublishedNumbers::Load(const std::string& path) { return PublishedNumbers(LoadYamlFile(path)); }

const ConfigNode* PublishedNumbers::At(const std::vector<std::string>& keys) const { return NodeAt(root_, keys); }

std::optional<double> PublishedNumbers::Main(const std::string& model, const std::string& column,
                                             const std::string& metric) const {
  if (column.empty()) return std::nullopt;
  return AsNumber(At({"main", "rows", Lower(model), column, metric}));
}

std::optional<double> PublishedNumbers::ZeroShot(const std::string& model, const std::string& column) const {
  if (column.empty()) return std::nullopt;
  return AsNumber(At({"zero_shot", Lower(model), column}));
}

std::optional<double> PublishedNumbers::Average(const std::string& model, const std::string& which) const {
  return AsNumber(At({"averages", Lower(model), which}));
}

std::optional<double> PublishedNumbers::AblationCaseAcc(const std::string& model) const {
  return AsNumber(At({"ablation", Lower(model), "case_acc"}));
}

std::optional<double> PublishedNumbers::AblationParams(const std::string& model) const {
  return AsNumber(At({"ablation", Lower(model), "params"}));
}

bool PublishedNumbers::Unsure(const std::string& section, const std::string& model) const {
  const ConfigNode* row = section == "main" ? At({"main", "rows", Lower(model)}) : At({section, Lower(model)});
  if (row == nullptr || row->kind != ConfigNode::Kind::kMap) return false;
  const ConfigNode* u = row->Find("unsure");
  return u != nullptr && u->scalar == "true";
}

std::optional<std::tuple<int, int, double>> PublishedNumbers::TokenBudgetBest() const {
  const auto a = AsNumber(At({"token_budget", "best", "k_aco"}));
  const auto s = AsNumber(At({"token_budget", "best", "k_sem"}));
  const auto v = AsNumber(At({"token_budget", "best", "avg_acc"}));
  if (!a || !s || !v) return std::nullopt;
  return std::make_tuple(static_cast<int>(*a), static_cast<int>(*s), *v);
}

std::optional<double> PublishedNumbers::QueriesCaseAcc(int num_queries) const {
  return AsNumber(At({"queries", "case_acc", std::to_string(num_queries)}));
}

std::string FindPublishedNumbers() {
  std::vector<std::string> first;
  if (const char* env = std::getenv("FAS_CONFIG_DIR"); env != nullptr && *env != '\0') {
    first.push_back((fs::path(env) / "paper" / "published.yaml").string());
  }
  first.push_back((fs::path("configs") / "paper" / "published.yaml").string());
  return FindInSourceTree(first, "configs/paper/published.yaml");
}

std::string PaperColumn(const std::string& dataset) {
  const std::string d = Lower(dataset);
  if (d == "conflict") return "case";
  static const std::set<std::string> kPaper = {"case", "meld", "ravdess", "esd", "emo-emilia", "emovo", "emodb"};
  return kPaper.count(d) ? d : "";
}

bool IsZeroShot(const std::string& dataset) { return RankIn(kZeroShot, dataset) >= 0; }

std::string DisplayDataset(const std::string& dataset) {
  static const std::map<std::string, std::string> kNames = {{"case", "CASE"},
                                                            {"meld", "MELD"},
                                                            {"ravdess", "RAVDESS"},
                                                            {"esd", "ESD"},
                                                            {"emo-emilia", "Emo-Emilia"},
                                                            {"emovo", "EMOVO"},
                                                            {"emodb", "EmoDB"},
                                                            {"emis", "EMIS"},
                                                            {"aspire", "ASPIRE"},
                                                            {"iemocap", "IEMOCAP"}};
  const auto it = kNames.find(Lower(dataset));
  return it == kNames.end() ? dataset : it->second;
}

void SortDatasets(std::vector<std::string>& datasets) {
  auto key = [](const std::string& d) {
    const int z = RankIn(kZeroShot, d), i = RankIn(kInDomain, d);
    if (z >= 0) return std::make_pair(0, z);
    if (i >= 0) return std::make_pair(1, i);
    return std::make_pair(2, 0);
  };
  std::sort(datasets.begin(), datasets.end());
  std::stable_sort(datasets.begin(), datasets.end(),
                   [&](const std::string& a, const std::string& b) { return key(a) < key(b); });
}

void SortModels(std::vector<std::string>& models) {
  std::sort(models.begin(), models.end());
  std::stable_sort(models.begin(), models.end(), [](const std::string& a, const std::string& b) {
    return RankIn(kModelOrder, a) < RankIn(kModelOrder, b);
  });
}

}  // namespace fas

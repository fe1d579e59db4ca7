#include "fas/eval/tables.h"

#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <set>
#include <sstream>

#include <nlohmann/json.hpp>

#include "fas/core/error.h"

namespace fs = std::filesystem;

namespace fas {

namespace {

// The paper's corpora in the order its tables list them, zero-shot first (as the main table does).
const std::vector<std::string> kZeroShot = {"case", "conflict", "emo-emilia", "emovo", "emodb", "emis", "aspire"};
const std::vector<std::string> kInDomain = {"meld", "ravdess", "esd", "iemocap", "mosei", "mer2024", "test"};
// Our models in the order the paper lists its rows: baselines and ablations first, FAS last.
const std::vector<std::string> kModelOrder = {"acoustic_only", "semantic_only",      "concat",
                                              "gated",         "cross_attention",    "fas_random_select",
                                              "fas_full_attention", "fas"};

std::string Lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return s;
}

int RankIn(const std::vector<std::string>& order, const std::string& name) {
  const auto it = std::find(order.begin(), order.end(), Lower(name));
  return it == order.end() ? -1 : static_cast<int>(it - order.begin());
}

std::string DisplayDataset(const std::string& dataset) {
  static const std::map<std::string, std::string> kNames = {
      {"case", "CASE"},   {"meld", "MELD"},   {"ravdess", "RAVDESS"}, {"esd", "ESD"},     {"emo-emilia", "Emo-Emilia"},
      {"emovo", "EMOVO"}, {"emodb", "EmoDB"}, {"emis", "EMIS"},       {"aspire", "ASPIRE"}, {"iemocap", "IEMOCAP"}};
  const auto it = kNames.find(Lower(dataset));
  return it == kNames.end() ? dataset : it->second;
}

std::string BaseModel(const std::string& model) { return model.substr(0, model.find('@')); }
bool IsSweepCell(const std::string& model) { return model.find('@') != std::string::npos; }

double Number(const nlohmann::json& j, const char* key, const std::string& path) {
  const auto it = j.find(key);
  if (it == j.end() || !it->is_number()) {
    throw DataError(path + ": '" + key + "' is missing or not a number");
  }
  return it->get<double>();
}

std::optional<double> OptionalNumber(const nlohmann::json& j, const char* key) {
  const auto it = j.find(key);
  if (it == j.end() || !it->is_number()) return std::nullopt;
  return it->get<double>();
}

std::string ScalarAt(const ConfigNode& root, const std::vector<std::string>& keys) {
  const ConfigNode* n = &root;
  for (const auto& k : keys) {
    n = n->Find(k);
    if (n == nullptr) return "";
  }
  return n->kind == ConfigNode::Kind::kScalar ? n->scalar : "";
}

// What the run's resolved config says about the model: its name, head and the fusion sizes the sweeps vary.
void ReadRunConfig(const std::string& config_yaml, RunResult& r) {
  const ConfigNode root = LoadYamlFile(config_yaml);
  if (const std::string name = ScalarAt(root, {"name"}); !name.empty()) r.model = name;
  if (const std::string head = ScalarAt(root, {"model", "head"}); !head.empty()) r.head = head;
  for (const char* key : {"k_aco", "k_sem", "num_queries"}) {
    const std::string v = ScalarAt(root, {"model", "fusion", key});
    if (v.empty()) continue;
    try {
      r.fusion[key] = std::stod(v);
    } catch (const std::exception&) {
      throw DataError(config_yaml + ": model.fusion." + key + " is not a number ('" + v + "')");
    }
  }
}

std::string Percent(double v) {
  char buf[32];
  std::snprintf(buf, sizeof(buf), "%.2f", v);
  return buf;
}

std::string Params(double n) {
  char buf[32];
  if (n >= 1e6) {
    std::snprintf(buf, sizeof(buf), "%.2fM", n / 1e6);
  } else if (n >= 1e3) {
    std::snprintf(buf, sizeof(buf), "%.1fK", n / 1e3);
  } else {
    std::snprintf(buf, sizeof(buf), "%.0f", n);
  }
  return buf;
}

// The text of a cell without emphasis; `pm` is how ± is written.
std::string CellText(const TableCell& c, const TableColumn& col, const std::string& pm) {
  switch (c.kind) {
    case TableCell::Kind::kEmpty:
      return "–";
    case TableCell::Kind::kText:
      return c.text;
    case TableCell::Kind::kNumber:
      return (col.kind == TableColumn::Kind::kParams ? Params(c.number) : Percent(c.number)) + (c.unsure ? "?" : "");
    case TableCell::Kind::kStats:
      return c.stats.n >= 2 ? Percent(c.stats.mean) + pm + Percent(c.stats.std) : Percent(c.stats.mean);
  }
  return "";
}

bool AnyUnsure(const Table& t) {
  for (const auto& row : t.rows) {
    for (const auto& c : row) {
      if (c.unsure) return true;
    }
  }
  return false;
}

int MaxSeeds(const Table& t) {
  int n = 0;
  for (const auto& row : t.rows) {
    for (const auto& c : row) {
      if (c.kind == TableCell::Kind::kStats) n = std::max(n, c.stats.n);
    }
  }
  return n;
}

std::vector<std::string> StandardNotes(const Table& t) {
  std::vector<std::string> notes;
  const int seeds = MaxSeeds(t);
  if (seeds >= 2) notes.push_back("Ours: mean ± standard deviation over seeds (up to " + std::to_string(seeds) + ").");
  if (AnyUnsure(t)) notes.push_back("?: the sources of the paper's numbers disagree on this value or its label.");
  return notes;
}

// --- grouping results into cells ---------------------------------------------------------------------------

using Group = std::vector<const RunResult*>;

std::vector<std::string> OrderedDatasets(const std::vector<const RunResult*>& results) {
  std::set<std::string> seen;
  for (const auto* r : results) seen.insert(r->dataset);
  std::vector<std::string> out(seen.begin(), seen.end());
  auto key = [](const std::string& d) {
    const int z = RankIn(kZeroShot, d), i = RankIn(kInDomain, d);
    if (z >= 0) return std::make_pair(0, z);
    if (i >= 0) return std::make_pair(1, i);
    return std::make_pair(2, 0);
  };
  std::stable_sort(out.begin(), out.end(), [&](const std::string& a, const std::string& b) { return key(a) < key(b); });
  return out;
}

std::vector<std::string> OrderedModels(const std::vector<const RunResult*>& results) {
  std::set<std::string> seen;
  for (const auto* r : results) seen.insert(r->model);
  std::vector<std::string> out(seen.begin(), seen.end());
  // Names we do not know come first (alphabetically), then the paper's order with FAS last.
  std::stable_sort(out.begin(), out.end(), [](const std::string& a, const std::string& b) {
    return RankIn(kModelOrder, a) < RankIn(kModelOrder, b);
  });
  return out;
}

TableCell StatsCell(const std::vector<const RunResult*>& results, const std::function<std::optional<double>(
                                                                         const RunResult&)>& value) {
  std::vector<double> v;
  for (const auto* r : results) {
    if (const auto x = value(*r)) v.push_back(*x);
  }
  TableCell c;
  if (v.empty()) return c;
  c.kind = TableCell::Kind::kStats;
  c.stats = Aggregate(v);
  return c;
}

TableCell NumberCell(std::optional<double> v, bool unsure = false) {
  TableCell c;
  if (!v) return c;
  c.kind = TableCell::Kind::kNumber;
  c.number = *v;
  c.unsure = unsure;
  return c;
}

TableCell TextCell(const std::string& s) {
  TableCell c;
  c.kind = TableCell::Kind::kText;
  c.text = s;
  return c;
}

std::vector<const RunResult*> Select(const std::vector<const RunResult*>& results,
                                     const std::function<bool(const RunResult&)>& keep) {
  std::vector<const RunResult*> out;
  for (const auto* r : results) {
    if (keep(*r)) out.push_back(r);
  }
  return out;
}

bool IsFasHead(const RunResult& r) { return r.head.empty() ? BaseModel(r.model) == "fas" : r.head == "fas"; }

double FusionValue(const RunResult& r, const std::string& key) {
  const auto it = r.fusion.find(key);
  return it == r.fusion.end() ? std::nan("") : it->second;
}

// The value of `key` most runs share (ties: the smallest), so that a sweep over one setting holds the others at
// what the suite's model uses.
template <class Key>
Key ModalValue(const std::vector<const RunResult*>& runs, const std::function<Key(const RunResult&)>& key) {
  std::map<Key, int> counts;
  for (const auto* r : runs) ++counts[key(*r)];
  Key best{};
  int most = -1;
  for (const auto& [k, n] : counts) {
    if (n > most) {
      best = k;
      most = n;
    }
  }
  return best;
}

// The average accuracy of each run over `datasets`, as a result per run (for the sweeps).
std::vector<double> RunAverages(const std::vector<const RunResult*>& runs, const std::vector<std::string>& datasets) {
  std::map<std::string, std::vector<double>> by_run;
  for (const auto* r : runs) {
    if (std::find(datasets.begin(), datasets.end(), r->dataset) != datasets.end()) by_run[r->run_dir].push_back(r->acc);
  }
  std::vector<double> out;
  for (const auto& [run, accs] : by_run) {
    if (accs.size() != datasets.size()) continue;
    double s = 0;
    for (double a : accs) s += a;
    out.push_back(s / static_cast<double>(accs.size()));
  }
  return out;
}

// Datasets every run of `runs` was evaluated on (so that averages compare like with like).
std::vector<std::string> CommonDatasets(const std::vector<const RunResult*>& runs) {
  std::map<std::string, std::set<std::string>> by_run;
  for (const auto* r : runs) by_run[r->run_dir].insert(r->dataset);
  std::vector<std::string> out;
  for (const auto& d : OrderedDatasets(runs)) {
    bool all = true;
    for (const auto& [run, ds] : by_run) all = all && ds.count(d) > 0;
    if (all) out.push_back(d);
  }
  return out;
}

std::string JoinDisplay(const std::vector<std::string>& datasets) {
  std::string s;
  for (const auto& d : datasets) s += (s.empty() ? "" : ", ") + DisplayDataset(d);
  return s;
}

std::string DatasetNote(const std::vector<std::string>& datasets) {
  std::vector<std::string> zs, id;
  for (const auto& d : datasets) (IsZeroShot(d) ? zs : id).push_back(d);
  std::string s;
  if (!zs.empty()) s += "Zero-shot: " + JoinDisplay(zs) + ".";
  if (!id.empty()) s += std::string(s.empty() ? "" : " ") + "In-domain: " + JoinDisplay(id) + ".";
  if (std::find(datasets.begin(), datasets.end(), "conflict") != datasets.end()) {
    s += " The synthetic conflict set stands where the paper has CASE; its paper column shows CASE.";
  }
  return s;
}

std::string PaperHeader(const std::string& dataset, const std::string& metric) {
  return "paper " + DisplayDataset(PaperColumn(dataset)) + " " + metric;
}

// --- the five layouts --------------------------------------------------------------------------------------

Table MainTable(const std::vector<const RunResult*>& base, const PublishedNumbers& pub) {
  Table t;
  t.name = "main";
  t.title = "Main results (ACC / F1, %)";
  t.columns.push_back({"model", TableColumn::Kind::kLabel});
  const auto datasets = OrderedDatasets(base);
  const auto models = OrderedModels(base);
  struct Col {
    std::string dataset, metric;
    bool paper;
  };
  std::vector<Col> cols;
  for (const auto& d : datasets) {
    for (const std::string metric : {"acc", "f1"}) {
      const std::string up = metric == "acc" ? "ACC" : "F1";
      cols.push_back({d, metric, false});
      t.columns.push_back({DisplayDataset(d) + " " + up, TableColumn::Kind::kOurs});
      bool any = false;
      for (const auto& m : models) any = any || pub.Main(m, PaperColumn(d), metric) || (metric == "acc" && pub.ZeroShot(m, PaperColumn(d)));
      if (any) {
        cols.push_back({d, metric, true});
        t.columns.push_back({PaperHeader(d, up), TableColumn::Kind::kPaper});
      }
    }
  }
  for (const auto& m : models) {
    std::vector<TableCell> row = {TextCell(m)};
    for (const auto& c : cols) {
      if (c.paper) {
        auto v = pub.Main(m, PaperColumn(c.dataset), c.metric);
        if (!v && c.metric == "acc") v = pub.ZeroShot(m, PaperColumn(c.dataset));
        row.push_back(NumberCell(v, pub.Unsure("main", m)));
        continue;
      }
      const auto runs = Select(base, [&](const RunResult& r) { return r.model == m && r.dataset == c.dataset; });
      row.push_back(StatsCell(runs, [&](const RunResult& r) -> std::optional<double> {
        return c.metric == "acc" ? r.acc : r.macro_f1;
      }));
    }
    t.rows.push_back(std::move(row));
  }
  t.notes.push_back(DatasetNote(datasets));
  t.notes.push_back("F1: macro-F1 (results.json also holds weighted_f1; the paper does not say which it reports).");
  return t;
}

Table AblationTable(const std::vector<const RunResult*>& base, const PublishedNumbers& pub) {
  Table t;
  t.name = "ablation";
  t.title = "Fusion ablation (ACC, %; trainable parameters)";
  t.columns.push_back({"model", TableColumn::Kind::kLabel});
  const auto datasets = OrderedDatasets(base);
  const auto models = OrderedModels(base);
  bool any_paper = false;
  for (const auto& m : models) any_paper = any_paper || pub.AblationCaseAcc(m);
  std::vector<std::pair<std::string, bool>> cols;  // dataset, paper column
  for (const auto& d : datasets) {
    cols.emplace_back(d, false);
    t.columns.push_back({DisplayDataset(d) + " ACC", TableColumn::Kind::kOurs});
    if (any_paper && PaperColumn(d) == "case") {
      cols.emplace_back(d, true);
      t.columns.push_back({PaperHeader(d, "ACC"), TableColumn::Kind::kPaper});
    }
  }
  t.columns.push_back({"params", TableColumn::Kind::kParams});
  t.columns.push_back({"paper params", TableColumn::Kind::kParams});
  for (const auto& m : models) {
    std::vector<TableCell> row = {TextCell(m)};
    const auto mine = Select(base, [&](const RunResult& r) { return r.model == m; });
    for (const auto& [d, paper] : cols) {
      if (paper) {
        row.push_back(NumberCell(pub.AblationCaseAcc(m), pub.Unsure("ablation", m)));
        continue;
      }
      row.push_back(StatsCell(Select(mine, [&, d = d](const RunResult& r) { return r.dataset == d; }),
                              [](const RunResult& r) -> std::optional<double> { return r.acc; }));
    }
    std::optional<double> params;
    for (const auto* r : mine) {
      if (r->trainable_parameters) params = static_cast<double>(*r->trainable_parameters);
    }
    row.push_back(NumberCell(params));
    row.push_back(NumberCell(pub.AblationParams(m), pub.Unsure("ablation", m)));
    t.rows.push_back(std::move(row));
  }
  t.notes.push_back(DatasetNote(datasets));
  t.notes.push_back("params: trainable parameters of the run (results.json `trainable_parameters`); the paper "
                    "counts the fusion module and classifier over frozen encoders.");
  return t;
}

std::optional<Table> TokenBudgetTable(const std::vector<const RunResult*>& all, const PublishedNumbers& pub) {
  auto fas = Select(all, [](const RunResult& r) {
    return IsFasHead(r) && !std::isnan(FusionValue(r, "k_aco")) && !std::isnan(FusionValue(r, "k_sem"));
  });
  const double nq = ModalValue<double>(fas, [](const RunResult& r) { return FusionValue(r, "num_queries"); });
  fas = Select(fas, [&](const RunResult& r) { return FusionValue(r, "num_queries") == nq || std::isnan(nq); });
  std::set<double> k_aco, k_sem;
  std::set<std::pair<double, double>> cells;
  for (const auto* r : fas) {
    k_aco.insert(FusionValue(*r, "k_aco"));
    k_sem.insert(FusionValue(*r, "k_sem"));
    cells.emplace(FusionValue(*r, "k_aco"), FusionValue(*r, "k_sem"));
  }
  if (cells.size() < 2) return std::nullopt;
  const auto datasets = CommonDatasets(fas);
  Table t;
  t.name = "token_budget";
  t.title = "Token budget: average ACC (%) over " + JoinDisplay(datasets) + " by k_aco (rows) and k_sem (columns)";
  t.columns.push_back({"k_aco \\ k_sem", TableColumn::Kind::kLabel});
  for (double s : k_sem) t.columns.push_back({"k_sem=" + std::to_string(static_cast<int>(s)), TableColumn::Kind::kOurs});
  for (double a : k_aco) {
    std::vector<TableCell> row = {TextCell("k_aco=" + std::to_string(static_cast<int>(a)))};
    for (double s : k_sem) {
      const auto runs = Select(fas, [&](const RunResult& r) {
        return FusionValue(r, "k_aco") == a && FusionValue(r, "k_sem") == s;
      });
      const auto avgs = RunAverages(runs, datasets);
      TableCell c;
      if (!avgs.empty()) {
        c.kind = TableCell::Kind::kStats;
        c.stats = Aggregate(avgs);
      }
      row.push_back(c);
    }
    t.rows.push_back(std::move(row));
  }
  t.notes.push_back("FAS runs with N_q = " + std::to_string(static_cast<int>(nq)) +
                    "; a cell is the mean over seeds of each run's average ACC; the best cell of the grid is marked.");
  if (const auto best = pub.TokenBudgetBest()) {
    t.notes.push_back("paper: best average ACC " + Percent(std::get<2>(*best)) + " at k_aco = " +
                      std::to_string(std::get<0>(*best)) + ", k_sem = " + std::to_string(std::get<1>(*best)) +
                      " (only the optimum is published).");
  }
  return t;
}

std::optional<Table> QueriesTable(const std::vector<const RunResult*>& all, const PublishedNumbers& pub) {
  auto fas = Select(all, [](const RunResult& r) { return IsFasHead(r) && !std::isnan(FusionValue(r, "num_queries")); });
  using KK = std::pair<double, double>;
  const KK kk = ModalValue<KK>(fas, [](const RunResult& r) { return KK{FusionValue(r, "k_aco"), FusionValue(r, "k_sem")}; });
  fas = Select(fas, [&](const RunResult& r) { return KK{FusionValue(r, "k_aco"), FusionValue(r, "k_sem")} == kk; });
  std::set<double> nqs;
  for (const auto* r : fas) nqs.insert(FusionValue(*r, "num_queries"));
  if (nqs.size() < 2) return std::nullopt;
  const auto datasets = CommonDatasets(fas);
  Table t;
  t.name = "queries";
  t.title = "Query count N_q (ACC, %)";
  t.columns.push_back({"N_q", TableColumn::Kind::kLabel});
  bool any_paper = false;
  for (double q : nqs) any_paper = any_paper || pub.QueriesCaseAcc(static_cast<int>(q));
  std::vector<std::pair<std::string, bool>> cols;
  for (const auto& d : datasets) {
    cols.emplace_back(d, false);
    t.columns.push_back({DisplayDataset(d) + " ACC", TableColumn::Kind::kOurs});
    if (any_paper && PaperColumn(d) == "case") {
      cols.emplace_back(d, true);
      t.columns.push_back({PaperHeader(d, "ACC"), TableColumn::Kind::kPaper});
    }
  }
  if (datasets.size() >= 2) t.columns.push_back({"average ACC", TableColumn::Kind::kOurs});
  for (double q : nqs) {
    const int nq = static_cast<int>(q);
    std::vector<TableCell> row = {TextCell(std::to_string(nq))};
    const auto runs = Select(fas, [&](const RunResult& r) { return FusionValue(r, "num_queries") == q; });
    for (const auto& [d, paper] : cols) {
      if (paper) {
        row.push_back(NumberCell(pub.QueriesCaseAcc(nq)));
        continue;
      }
      row.push_back(StatsCell(Select(runs, [&, d = d](const RunResult& r) { return r.dataset == d; }),
                              [](const RunResult& r) -> std::optional<double> { return r.acc; }));
    }
    if (datasets.size() >= 2) {
      TableCell c;
      const auto avgs = RunAverages(runs, datasets);
      if (!avgs.empty()) {
        c.kind = TableCell::Kind::kStats;
        c.stats = Aggregate(avgs);
      }
      row.push_back(c);
    }
    t.rows.push_back(std::move(row));
  }
  t.notes.push_back("FAS runs with k_aco = " + std::to_string(static_cast<int>(kk.first)) +
                    ", k_sem = " + std::to_string(static_cast<int>(kk.second)) + ". " + DatasetNote(datasets));
  return t;
}

std::optional<Table> ConflictTable(const std::vector<const RunResult*>& base, const PublishedNumbers& pub) {
  std::vector<std::string> datasets;
  for (const auto& d : OrderedDatasets(base)) {
    bool has = false;
    for (const auto* r : base) has = has || (r->dataset == d && r->conflict_n > 0);
    if (has) datasets.push_back(d);
  }
  if (datasets.empty()) return std::nullopt;
  const auto models = OrderedModels(base);
  Table t;
  t.name = "conflict";
  t.title = "Acoustic-semantic conflict: congruent vs conflict ACC and semantic bias rate (%)";
  t.columns.push_back({"model", TableColumn::Kind::kLabel});
  enum class What { kCongruent, kConflict, kPaper, kBias };
  std::vector<std::pair<std::string, What>> cols;
  for (const auto& d : datasets) {
    const std::string name = DisplayDataset(d);
    cols.emplace_back(d, What::kCongruent);
    t.columns.push_back({name + ": congruent ACC", TableColumn::Kind::kOurs});
    cols.emplace_back(d, What::kConflict);
    t.columns.push_back({name + ": conflict ACC", TableColumn::Kind::kOurs});
    bool any = false;
    for (const auto& m : models) any = any || pub.Main(m, PaperColumn(d), "acc");
    if (any && PaperColumn(d) == "case") {
      cols.emplace_back(d, What::kPaper);
      t.columns.push_back({PaperHeader(d, "ACC"), TableColumn::Kind::kPaper});
    }
    cols.emplace_back(d, What::kBias);
    t.columns.push_back({name + ": semantic bias", TableColumn::Kind::kOurs, true});
  }
  for (const auto& m : models) {
    std::vector<TableCell> row = {TextCell(m)};
    for (const auto& [d, what] : cols) {
      if (what == What::kPaper) {
        row.push_back(NumberCell(pub.Main(m, PaperColumn(d), "acc"), pub.Unsure("main", m)));
        continue;
      }
      const auto runs = Select(base, [&, d = d](const RunResult& r) { return r.model == m && r.dataset == d; });
      row.push_back(StatsCell(runs, [w = what](const RunResult& r) -> std::optional<double> {
        if (w == What::kCongruent) return r.congruent_n > 0 ? r.congruent_acc : std::nullopt;
        if (w == What::kConflict) return r.conflict_n > 0 ? r.conflict_acc : std::nullopt;
        return r.semantic_bias_rate;
      }));
    }
    t.rows.push_back(std::move(row));
  }
  t.notes.push_back("Conflict: the voice's emotion (the label) differs from the words' (text_label). Semantic bias: "
                    "among conflict utterances, the share predicted as the words' emotion (lower is better). "
                    "CASE is all conflict, so its paper ACC compares with the conflict ACC.");
  return t;
}

// --- rendering ------------------------------------------------------------------------------------------------

std::string LatexEscape(const std::string& s) {
  std::string out;
  for (char c : s) {
    if (c == '_' || c == '%' || c == '&' || c == '#' || c == '$' || c == '{' || c == '}') out += '\\';
    if (c == '\\') {
      out += "\\textbackslash{}";
      continue;
    }
    out += c;
  }
  // UTF-8 en dash and ± have LaTeX spellings that work without inputenc tricks.
  std::string fixed;
  for (size_t i = 0; i < out.size(); ++i) {
    if (out.compare(i, 3, "–") == 0) {
      fixed += "--";
      i += 2;
    } else if (out.compare(i, 2, "±") == 0) {
      fixed += "$\\pm$";
      i += 1;
    } else {
      fixed += out[i];
    }
  }
  return fixed;
}

std::string CsvField(const std::string& s) {
  if (s.find_first_of(",\"\n") == std::string::npos) return s;
  std::string q = "\"";
  for (char c : s) q += c == '"' ? std::string("\"\"") : std::string(1, c);
  return q + "\"";
}

size_t DisplayWidth(const std::string& s) {
  size_t n = 0;
  for (unsigned char c : s) n += (c & 0xC0) != 0x80;  // count UTF-8 code points, not bytes
  return n;
}

}  // namespace

RunResult ReadRunResult(const std::string& results_json) {
  std::ifstream in(results_json);
  if (!in) throw IoError("cannot read " + results_json);
  nlohmann::json j;
  try {
    j = nlohmann::json::parse(in);
  } catch (const nlohmann::json::exception& e) {
    throw DataError(results_json + ": not valid JSON (" + e.what() + ")");
  }
  if (!j.is_object()) throw DataError(results_json + ": not a JSON object");
  RunResult r;
  r.path = results_json;
  const fs::path dir = fs::path(results_json).parent_path();
  r.run_dir = dir.parent_path().filename() == "eval" ? dir.parent_path().parent_path().string() : dir.string();
  for (const char* key : {"model", "dataset"}) {
    if (!j.contains(key) || !j[key].is_string()) throw DataError(results_json + ": '" + key + "' is missing");
  }
  r.model = j["model"].get<std::string>();
  r.head = j.value("head", std::string());
  r.dataset = j["dataset"].get<std::string>();
  r.seed = static_cast<uint64_t>(Number(j, "seed", results_json));
  r.n = static_cast<int64_t>(Number(j, "n", results_json));
  r.acc = Number(j, "acc", results_json);
  r.ua = Number(j, "ua", results_json);
  r.macro_f1 = Number(j, "macro_f1", results_json);
  r.weighted_f1 = Number(j, "weighted_f1", results_json);
  if (const auto it = j.find("conflict"); it != j.end() && it->is_object()) {
    r.conflict_n = static_cast<int64_t>(OptionalNumber(*it, "n").value_or(0));
    r.conflict_acc = OptionalNumber(*it, "acc");
    r.semantic_bias_rate = OptionalNumber(*it, "semantic_bias_rate");
  }
  if (const auto it = j.find("congruent"); it != j.end() && it->is_object()) {
    r.congruent_n = static_cast<int64_t>(OptionalNumber(*it, "n").value_or(0));
    r.congruent_acc = OptionalNumber(*it, "acc");
  }
  if (const auto p = OptionalNumber(j, "trainable_parameters")) r.trainable_parameters = static_cast<int64_t>(*p);
  if (r.head.empty()) r.head = BaseModel(r.model);
  const fs::path config = fs::path(r.run_dir) / "config.yaml";
  if (fs::exists(config)) ReadRunConfig(config.string(), r);
  if (const auto it = j.find("fusion"); it != j.end() && it->is_object()) {
    for (const auto& [k, v] : it->items()) {
      if (v.is_number()) r.fusion[k] = v.get<double>();
    }
  }
  return r;
}

std::vector<RunResult> CollectRunResults(const std::string& dir) {
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) throw IoError("'" + dir + "' is not a folder");
  std::vector<std::string> paths;
  for (auto it = fs::recursive_directory_iterator(dir, fs::directory_options::skip_permission_denied, ec);
       it != fs::recursive_directory_iterator(); it.increment(ec)) {
    if (ec) throw IoError("cannot list " + dir + ": " + ec.message());
    if (it->path().filename() == "results.json" && it->is_regular_file()) paths.push_back(it->path().string());
  }
  std::sort(paths.begin(), paths.end());
  std::vector<RunResult> out;
  for (const auto& p : paths) out.push_back(ReadRunResult(p));
  return out;
}

PublishedNumbers PublishedNumbers::Load(const std::string& path) { return PublishedNumbers(LoadYamlFile(path)); }

const ConfigNode* PublishedNumbers::At(const std::vector<std::string>& keys) const {
  const ConfigNode* n = &root_;
  for (const auto& k : keys) {
    if (n->kind != ConfigNode::Kind::kMap) return nullptr;
    n = n->Find(k);
    if (n == nullptr) return nullptr;
  }
  return n;
}

namespace {
std::optional<double> AsNumber(const ConfigNode* n) {
  if (n == nullptr || n->kind != ConfigNode::Kind::kScalar) return std::nullopt;
  try {
    return std::stod(n->scalar);
  } catch (const std::exception&) {
    return std::nullopt;
  }
}
}  // namespace

std::optional<double> PublishedNumbers::Main(const std::string& model, const std::string& column,
                                             const std::string& metric) const {
  if (column.empty()) return std::nullopt;
  return AsNumber(At({"main", "rows", Lower(model), column, metric}));
}

std::optional<double> PublishedNumbers::ZeroShot(const std::string& model, const std::string& column) const {
  if (column.empty()) return std::nullopt;
  return AsNumber(At({"zero_shot", Lower(model), column}));
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
  std::vector<fs::path> candidates;
  if (const char* env = std::getenv("FAS_CONFIG_DIR"); env != nullptr && *env != '\0') {
    candidates.push_back(fs::path(env) / "paper" / "published.yaml");
  }
  candidates.push_back(fs::path("configs") / "paper" / "published.yaml");
  char exe[4096];
  const ssize_t len = ::readlink("/proc/self/exe", exe, sizeof(exe) - 1);
  if (len > 0) {
    exe[len] = '\0';
    for (fs::path p = fs::path(exe).parent_path(); !p.empty() && p != p.root_path(); p = p.parent_path()) {
      candidates.push_back(p / "configs" / "paper" / "published.yaml");
    }
  }
  for (const auto& c : candidates) {
    std::error_code ec;
    if (fs::is_regular_file(c, ec)) return c.string();
  }
  return "";
}

std::string PaperColumn(const std::string& dataset) {
  const std::string d = Lower(dataset);
  if (d == "conflict") return "case";
  static const std::set<std::string> kPaper = {"case", "meld", "ravdess", "esd", "emo-emilia", "emovo", "emodb"};
  return kPaper.count(d) ? d : "";
}

bool IsZeroShot(const std::string& dataset) { return RankIn(kZeroShot, dataset) >= 0; }

SeedStats Aggregate(const std::vector<double>& fractions) {
  SeedStats s;
  s.n = static_cast<int>(fractions.size());
  if (s.n == 0) return s;
  double sum = 0;
  for (double f : fractions) sum += 100.0 * f;
  s.mean = sum / s.n;
  if (s.n >= 2) {
    double ss = 0;
    for (double f : fractions) ss += (100.0 * f - s.mean) * (100.0 * f - s.mean);
    s.std = std::sqrt(ss / (s.n - 1));
  }
  return s;
}

void MarkBest(Table& table) {
  // The token-budget grid is one comparison over all its cells; other tables compare within a column.
  const bool whole_grid = table.name == "token_budget";
  std::vector<std::vector<std::pair<size_t, size_t>>> groups;
  if (whole_grid) groups.emplace_back();
  for (size_t c = 0; c < table.columns.size(); ++c) {
    if (table.columns[c].kind != TableColumn::Kind::kOurs) continue;
    if (!whole_grid) groups.emplace_back();
    for (size_t r = 0; r < table.rows.size(); ++r) {
      if (table.rows[r][c].kind == TableCell::Kind::kStats) groups.back().emplace_back(r, c);
    }
  }
  for (const auto& g : groups) {
    if (g.size() < 2) continue;
    const bool lower = table.columns[g.front().second].lower_is_better;
    double best = lower ? INFINITY : -INFINITY;
    for (const auto& [r, c] : g) {
      const double v = table.rows[r][c].stats.mean;
      best = lower ? std::min(best, v) : std::max(best, v);
    }
    // Equal as printed (two decimals) counts as a tie.
    for (const auto& [r, c] : g) {
      table.rows[r][c].best = Percent(table.rows[r][c].stats.mean) == Percent(best);
    }
  }
}

std::vector<Table> BuildPaperTables(const std::vector<RunResult>& results, const PublishedNumbers& published) {
  std::vector<const RunResult*> all, base;
  for (const auto& r : results) {
    all.push_back(&r);
    if (!IsSweepCell(r.model)) base.push_back(&r);
  }
  std::vector<Table> tables;
  if (!base.empty()) {
    tables.push_back(MainTable(base, published));
    if (auto t = ConflictTable(base, published)) tables.push_back(std::move(*t));
    tables.push_back(AblationTable(base, published));
  }
  if (auto t = TokenBudgetTable(all, published)) tables.push_back(std::move(*t));
  if (auto t = QueriesTable(all, published)) tables.push_back(std::move(*t));
  for (auto& t : tables) {
    MarkBest(t);
    const auto extra = StandardNotes(t);
    t.notes.insert(t.notes.end(), extra.begin(), extra.end());
    bool marked = false;
    for (const auto& row : t.rows) {
      for (const auto& c : row) marked = marked || c.best;
    }
    if (marked) t.notes.push_back(t.name == "token_budget" ? "Best cell in bold." : "Best of ours per column in bold.");
  }
  return tables;
}

std::string RenderMarkdown(const Table& table) {
  std::vector<std::vector<std::string>> text;
  text.emplace_back();
  for (const auto& c : table.columns) text.back().push_back(c.header);
  for (const auto& row : table.rows) {
    text.emplace_back();
    for (size_t c = 0; c < row.size(); ++c) {
      const std::string s = CellText(row[c], table.columns[c], " ± ");
      text.back().push_back(row[c].best ? "**" + s + "**" : s);
    }
  }
  std::vector<size_t> width(table.columns.size(), 3);
  for (const auto& row : text) {
    for (size_t c = 0; c < row.size(); ++c) width[c] = std::max(width[c], DisplayWidth(row[c]));
  }
  auto line = [&](const std::vector<std::string>& cells) {
    std::string s = "|";
    for (size_t c = 0; c < cells.size(); ++c) {
      const std::string pad(width[c] - DisplayWidth(cells[c]), ' ');
      s += " " + (c == 0 ? cells[c] + pad : pad + cells[c]) + " |";
    }
    return s + "\n";
  };
  std::string out = "### " + table.title + "\n\n" + line(text[0]) + "|";
  for (size_t c = 0; c < width.size(); ++c) out += c == 0 ? " " + std::string(width[c], '-') + " |" : " " + std::string(width[c] - 1, '-') + ": |";
  out += "\n";
  for (size_t r = 1; r < text.size(); ++r) out += line(text[r]);
  if (!table.notes.empty()) out += "\n";
  for (const auto& n : table.notes) out += n + "\n";
  return out;
}

std::string RenderLatex(const Table& table) {
  std::string out = "% " + table.title + " (written by fas tables)\n\\begin{table}[t]\n\\centering\n\\caption{" +
                    LatexEscape(table.title) + "}\n\\label{tab:" + table.name + "}\n\\begin{tabular}{l" +
                    std::string(table.columns.size() - 1, 'r') + "}\n\\toprule\n";
  for (size_t c = 0; c < table.columns.size(); ++c) {
    out += (c ? " & " : "") + LatexEscape(table.columns[c].header);
  }
  out += " \\\\\n\\midrule\n";
  for (const auto& row : table.rows) {
    for (size_t c = 0; c < row.size(); ++c) {
      const std::string s = LatexEscape(CellText(row[c], table.columns[c], " ± "));
      out += (c ? " & " : "") + (row[c].best ? "\\textbf{" + s + "}" : s);
    }
    out += " \\\\\n";
  }
  out += "\\bottomrule\n\\end{tabular}\n";
  for (const auto& n : table.notes) out += "% " + n + "\n";
  return out + "\\end{table}\n";
}

std::string RenderCsv(const Table& table) {
  std::string out = "table,row,column,kind,mean,std,n,best\n";
  for (const auto& row : table.rows) {
    const std::string label = row.empty() ? "" : CellText(row[0], table.columns[0], "");
    for (size_t c = 1; c < row.size(); ++c) {
      const TableCell& cell = row[c];
      const TableColumn& col = table.columns[c];
      if (cell.kind == TableCell::Kind::kEmpty || cell.kind == TableCell::Kind::kText) continue;
      const char* kind = col.kind == TableColumn::Kind::kPaper    ? "paper"
                         : col.kind == TableColumn::Kind::kParams ? "params"
                                                                  : "ours";
      std::ostringstream line;
      line << table.name << "," << CsvField(label) << "," << CsvField(col.header) << "," << kind << ",";
      if (cell.kind == TableCell::Kind::kStats) {
        line << Percent(cell.stats.mean) << "," << (cell.stats.n >= 2 ? Percent(cell.stats.std) : "") << ","
             << cell.stats.n;
      } else {
        char buf[32];
        std::snprintf(buf, sizeof(buf), "%.10g", cell.number);
        line << buf << ",,";
      }
      line << "," << (cell.best ? "1" : "0") << "\n";
      out += line.str();
    }
  }
  return out;
}

std::vector<std::string> WriteTables(const std::vector<Table>& tables, const std::string& dir,
                                     const std::vector<std::string>& formats) {
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec) throw IoError("cannot create " + dir + ": " + ec.message());
  std::vector<std::string> written;
  for (const auto& t : tables) {
    for (const auto& f : formats) {
      std::string body;
      if (f == "md") {
        body = RenderMarkdown(t);
      } else if (f == "tex") {
        body = RenderLatex(t);
      } else if (f == "csv") {
        body = RenderCsv(t);
      } else {
        throw ConfigError("unknown table format '" + f + "' (known: md, tex, csv)");
      }
      const std::string path = (fs::path(dir) / (t.name + "." + f)).string();
      std::ofstream out(path, std::ios::trunc);
      out << body;
      if (!out) throw IoError("cannot write " + path);
      written.push_back(path);
    }
  }
  return written;
}

}  // namespace fas

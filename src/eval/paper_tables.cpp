// The paper's tables, one builder a layout, registered as PaperTableKinds(): main, conflict, ablation, token budget
// and query sweep.
#include <algorithm>
#include <cmath>
#include <functional>
#include <set>

#include "fas/eval/paper.h"
#include "fas/eval/table_registry.h"
#include "fas/eval/table_stats.h"

namespace fas {

namespace {

// --- grouping results into cells ---------------------------------------------------------------------------

// The distinct values of one field of the results.
std::vector<std::string> Distinct(const std::vector<const RunResult*>& results, std::string RunResult::*field) {
  std::set<std::string> seen;
  for (const auto* r : results) seen.insert(r->*field);
  return {seen.begin(), seen.end()};
}

std::vector<std::string> OrderedDatasets(const std::vector<const RunResult*>& results) {
  auto out = Distinct(results, &RunResult::dataset);
  SortDatasets(out);
  return out;
}

std::vector<std::string> OrderedModels(const std::vector<const RunResult*>& results) {
  auto out = Distinct(results, &RunResult::model);
  SortModels(out);
  return out;
}

TableCell StatsCell(const std::vector<const RunResult*>& results,
                    const std::function<std::optional<double>(const RunResult&)>& value) {
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

// An empty table: its kind's name, its title and the column of row labels.
Table NewTable(const std::string& name, const std::string& title, const std::string& label_header) {
  Table t;
  t.name = name;
  t.title = title;
  t.columns.push_back({label_header, TableColumn::Kind::kLabel});
  return t;
}

// An ACC column a dataset, and beside the one the paper's CASE column stands for, that column when the paper has
// any number in it; returns (dataset, paper column) a column.
std::vector<std::pair<std::string, bool>> AccColumns(Table& t, const std::vector<std::string>& datasets,
                                                     bool any_paper) {
  std::vector<std::pair<std::string, bool>> cols;
  for (const auto& d : datasets) {
    cols.emplace_back(d, false);
    t.columns.push_back({DisplayDataset(d) + " ACC", TableColumn::Kind::kOurs});
    if (any_paper && PaperColumn(d) == "case") {
      cols.emplace_back(d, true);
      t.columns.push_back({PaperHeader(d, "ACC"), TableColumn::Kind::kPaper});
    }
  }
  return cols;
}

// --- the paper's layouts --------------------------------------------------------------------------------------

std::optional<Table> MainTable(const std::vector<const RunResult*>& base, const PublishedNumbers& pub) {
  Table t = NewTable("main", "Main results (ACC / F1, %)", "model");
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
      for (const auto& m : models)
        any = any || pub.Main(m, PaperColumn(d), metric) || (metric == "acc" && pub.ZeroShot(m, PaperColumn(d)));
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
      row.push_back(StatsCell(
          runs, [&](const RunResult& r) -> std::optional<double> { return c.metric == "acc" ? r.acc : r.macro_f1; }));
    }
    t.rows.push_back(std::move(row));
  }
  t.notes.push_back(DatasetNote(datasets));
  t.notes.push_back("F1: macro-F1 (results.json also holds weighted_f1; the paper does not say which it reports).");
  return t;
}

std::optional<Table> AblationTable(const std::vector<const RunResult*>& base, const PublishedNumbers& pub) {
  Table t = NewTable("ablation", "Fusion ablation (ACC, %; trainable parameters)", "model");
  const auto datasets = OrderedDatasets(base);
  const auto models = OrderedModels(base);
  bool any_paper = false;
  for (const auto& m : models) any_paper = any_paper || pub.AblationCaseAcc(m);
  const auto cols = AccColumns(t, datasets, any_paper);
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
  t.notes.push_back(
      "params: trainable parameters of the run (results.json `trainable_parameters`); the paper "
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
  Table t =
      NewTable("token_budget",
               "Token budget: average ACC (%) over " + JoinDisplay(datasets) + " by k_aco (rows) and k_sem (columns)",
               "k_aco \\ k_sem");
  t.best_of_table = true;
  for (double s : k_sem)
    t.columns.push_back({"k_sem=" + std::to_string(static_cast<int>(s)), TableColumn::Kind::kOurs});
  for (double a : k_aco) {
    std::vector<TableCell> row = {TextCell("k_aco=" + std::to_string(static_cast<int>(a)))};
    for (double s : k_sem) {
      const auto runs =
          Select(fas, [&](const RunResult& r) { return FusionValue(r, "k_aco") == a && FusionValue(r, "k_sem") == s; });
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
    t.notes.push_back("paper: best average ACC " + FormatPercent(std::get<2>(*best)) +
                      " at k_aco = " + std::to_string(std::get<0>(*best)) +
                      ", k_sem = " + std::to_string(std::get<1>(*best)) + " (only the optimum is published).");
  }
  return t;
}

std::optional<Table> QueriesTable(const std::vector<const RunResult*>& all, const PublishedNumbers& pub) {
  auto fas = Select(all, [](const RunResult& r) { return IsFasHead(r) && !std::isnan(FusionValue(r, "num_queries")); });
  using KK = std::pair<double, double>;
  const KK kk = ModalValue<KK>(fas, [](const RunResult& r) {
    return KK{FusionValue(r, "k_aco"), FusionValue(r, "k_sem")};
  });
  fas = Select(fas, [&](const RunResult& r) { return KK{FusionValue(r, "k_aco"), FusionValue(r, "k_sem")} == kk; });
  std::set<double> nqs;
  for (const auto* r : fas) nqs.insert(FusionValue(*r, "num_queries"));
  if (nqs.size() < 2) return std::nullopt;
  const auto datasets = CommonDatasets(fas);
  Table t = NewTable("queries", "Query count N_q (ACC, %)", "N_q");
  bool any_paper = false;
  for (double q : nqs) any_paper = any_paper || pub.QueriesCaseAcc(static_cast<int>(q));
  const auto cols = AccColumns(t, datasets, any_paper);
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
  Table t =
      NewTable("conflict", "Acoustic-semantic conflict: congruent vs conflict ACC and semantic bias rate (%)", "model");
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
  t.notes.push_back(
      "Conflict: the voice's emotion (the label) differs from the words' (text_label). Semantic bias: "
      "among conflict utterances, the share predicted as the words' emotion (lower is better). "
      "CASE is all conflict, so its paper ACC compares with the conflict ACC.");
  return t;
}

}  // namespace

const TableRegistry& PaperTableKinds() {
  static const TableRegistry registry = [] {
    using Runs = TableKind::Runs;
    TableRegistry r;
    r.Register({"main", Runs::kModels, MainTable});
    r.Register({"conflict", Runs::kModels, ConflictTable});
    r.Register({"ablation", Runs::kModels, AblationTable});
    r.Register({"token_budget", Runs::kAll, TokenBudgetTable});
    r.Register({"queries", Runs::kAll, QueriesTable});
    return r;
  }();
  return registry;
}

}  // namespace fas

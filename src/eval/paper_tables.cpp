// The paper's tables, one builder a layout, registered as PaperTableKinds(): main, conflict, ablation, token budget
// and query sweep.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <functional>
#include <set>

#include "fas/eval/dataset_stats.h"
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

// Mean ± std over seeds of fractions; empty when there are none.
TableCell SeedsCell(const std::vector<double>& fractions) {
  TableCell c;
  if (fractions.empty()) return c;
  c.kind = TableCell::Kind::kStats;
  c.stats = Aggregate(fractions);
  return c;
}

TableCell StatsCell(const std::vector<const RunResult*>& results,
                    const std::function<std::optional<double>(const RunResult&)>& value) {
  std::vector<double> v;
  for (const auto* r : results) {
    if (const auto x = value(*r)) v.push_back(*x);
  }
  return SeedsCell(v);
}

// Columns of comparison figures, never ranked.
void AddStatisticColumns(Table& t, const std::vector<std::string>& headers) {
  for (const auto& h : headers) t.columns.push_back({h, TableColumn::Kind::kStatistic});
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

// A setting as written: 0.05, 95.
std::string General(double v) {
  char buf[32];
  std::snprintf(buf, sizeof(buf), "%g", v);
  return buf;
}

// The comparison of `model` with the reference on `dataset`, either way round; nullptr when there is none.
const Comparison* AgainstReference(const TableInputs& in, const std::string& model, const std::string& dataset) {
  for (const auto& c : in.comparisons) {
    if (c.dataset == dataset && ((c.a == in.reference && c.b == model) || (c.b == in.reference && c.a == model))) {
      return &c;
    }
  }
  return nullptr;
}

// The main table's averages: for zero-shot and for in-domain sets, where the runs have two or more, each run's
// average ACC over them (mean ± std over seeds), beside the paper's average where it publishes one; a note gives
// the paper's averages whatever our sets are.
void AddAverageColumns(Table& t, const std::vector<const RunResult*>& base, const std::vector<std::string>& models,
                       const std::vector<std::string>& datasets, const PublishedNumbers& pub) {
  struct Kind {
    bool zero_shot;
    std::string key, name, paper_sets;
  };
  const std::vector<Kind> kinds = {{true, "zero_shot", "zero-shot", "CASE, Emo-Emilia, EMOVO, EmoDB"},
                                   {false, "in_domain", "in-domain", "MELD, RAVDESS, ESD"}};
  std::string published;
  for (const auto& k : kinds) {
    std::vector<std::string> sets;
    for (const auto& d : datasets) {
      if (IsZeroShot(d) == k.zero_shot) sets.push_back(d);
    }
    bool any_paper = false;
    for (const auto& m : models) {
      if (const auto v = pub.Average(m, k.key)) {
        any_paper = true;
        published += std::string(published.empty() ? "" : "; ") + m + " " + k.name + " " + FormatPercent(*v) + " (" +
                     k.paper_sets + ")";
      }
    }
    if (sets.size() < 2) continue;
    t.columns.push_back({k.name + " avg ACC", TableColumn::Kind::kOurs});
    if (any_paper) t.columns.push_back({"paper " + k.name + " avg ACC", TableColumn::Kind::kPaper});
    for (size_t r = 0; r < models.size(); ++r) {
      const auto mine = Select(base, [&](const RunResult& x) { return x.model == models[r]; });
      t.rows[r].push_back(SeedsCell(RunAverages(mine, sets)));
      if (any_paper) t.rows[r].push_back(NumberCell(pub.Average(models[r], k.key)));
    }
    t.notes.push_back("Our " + k.name + " average: each run's mean ACC over " + JoinDisplay(sets) + ".");
  }
  if (!published.empty()) t.notes.push_back("Paper's average ACC: " + published + ".");
}

std::optional<Table> MainTable(const std::vector<const RunResult*>& base, const TableInputs& in) {
  const PublishedNumbers& pub = in.published;
  Table t = NewTable("main", "Main results (ACC / F1, %)", "model");
  const auto datasets = OrderedDatasets(base);
  const auto models = OrderedModels(base);
  // Our metrics and the published metric each stands beside: the paper's F1 beside weighted F1, which it fits.
  struct Metric {
    std::string key, header, published;
  };
  const std::vector<Metric> metrics = {{"acc", "ACC", "acc"}, {"f1", "macro-F1", ""}, {"wf1", "weighted F1", "f1"}};
  struct Col {
    std::string dataset, metric;
    bool paper;
  };
  std::vector<Col> cols;
  for (const auto& d : datasets) {
    for (const auto& metric : metrics) {
      cols.push_back({d, metric.key, false});
      t.columns.push_back({DisplayDataset(d) + " " + metric.header, TableColumn::Kind::kOurs});
      if (metric.published.empty()) continue;
      bool any = false;
      for (const auto& m : models) {
        any = any || pub.Main(m, PaperColumn(d), metric.published) ||
              (metric.key == "acc" && pub.ZeroShot(m, PaperColumn(d)));
      }
      if (any) {
        cols.push_back({d, metric.published, true});
        t.columns.push_back({PaperHeader(d, metric.key == "acc" ? "ACC" : "F1"), TableColumn::Kind::kPaper});
      }
    }
  }
  bool marked = false;
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
        return c.metric == "acc" ? r.acc : c.metric == "f1" ? r.macro_f1 : r.weighted_f1;
      }));
      const Comparison* vs = c.metric == "acc" ? AgainstReference(in, m, c.dataset) : nullptr;
      if (vs != nullptr && vs->significant && row.back().kind == TableCell::Kind::kStats) {
        row.back().mark = "†";
        marked = true;
      }
    }
    t.rows.push_back(std::move(row));
  }
  t.notes.push_back(DatasetNote(datasets));
  AddAverageColumns(t, base, models, datasets, pub);
  t.notes.push_back(
      "macro-F1 and weighted F1 as scikit-learn's f1_score. The paper does not say which F1 it reports; its column "
      "stands beside weighted F1, which its numbers fit best: on MELD (imbalanced) its F1 exceeds its ACC for WavLM "
      "and Emotion2Vec, as weighted F1 can and macro-F1 hardly does.");
  if (marked) {
    t.notes.push_back("†: ACC differs from " + in.reference +
                      "'s on this set (McNemar's exact test pooled over seeds, Holm-corrected over the set's "
                      "comparisons over the seeds both have, p < " +
                      General(in.comparison.alpha) + "; see the comparisons table).");
  }
  return t;
}

std::optional<Table> AblationTable(const std::vector<const RunResult*>& base, const TableInputs& in) {
  const PublishedNumbers& pub = in.published;
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

std::optional<Table> TokenBudgetTable(const std::vector<const RunResult*>& all, const TableInputs& in) {
  const PublishedNumbers& pub = in.published;
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
      row.push_back(SeedsCell(RunAverages(runs, datasets)));
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

std::optional<Table> QueriesTable(const std::vector<const RunResult*>& all, const TableInputs& in) {
  const PublishedNumbers& pub = in.published;
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
    if (datasets.size() >= 2) row.push_back(SeedsCell(RunAverages(runs, datasets)));
    t.rows.push_back(std::move(row));
  }
  t.notes.push_back("FAS runs with k_aco = " + std::to_string(static_cast<int>(kk.first)) +
                    ", k_sem = " + std::to_string(static_cast<int>(kk.second)) + ". " + DatasetNote(datasets));
  return t;
}

// Every swept model beside its sweep cells (MODEL@CELL): any setting a suite's `sweeps:` varies, such as a training
// probability, with the ACC of each set and the semantic bias where the set has conflicts.
std::optional<Table> SweepsTable(const std::vector<const RunResult*>& all, const TableInputs&) {
  std::set<std::string> swept;
  for (const auto* r : all) {
    if (IsSweepCell(r->model)) swept.insert(BaseModel(r->model));
  }
  if (swept.empty()) return std::nullopt;
  const auto runs = Select(all, [&](const RunResult& r) { return swept.count(BaseModel(r.model)) > 0; });
  const auto datasets = CommonDatasets(runs);
  std::vector<std::string> conflict_sets;
  for (const auto& d : datasets) {
    bool has = false;
    for (const auto* r : runs) has = has || (r->dataset == d && r->conflict_n > 0);
    if (has) conflict_sets.push_back(d);
  }
  Table t = NewTable("sweeps", "Sweeps: each swept model beside its cells (ACC, semantic bias, %)", "model");
  AccColumns(t, datasets, false);
  for (const auto& d : conflict_sets) {
    t.columns.push_back({DisplayDataset(d) + " semantic bias", TableColumn::Kind::kOurs, true});
  }
  std::set<std::string> rows;
  for (const auto* r : runs) rows.insert(r->model);
  for (const auto& model : swept) {
    std::vector<std::string> names = {model};
    for (const auto& m : rows) {
      if (m != model && BaseModel(m) == model) names.push_back(m);
    }
    for (const auto& name : names) {
      const auto mine = Select(runs, [&](const RunResult& r) { return r.model == name; });
      std::vector<TableCell> row = {TextCell(name == model ? model + " (its own setting)" : name)};
      for (const auto& d : datasets) {
        row.push_back(StatsCell(Select(mine, [&](const RunResult& r) { return r.dataset == d; }),
                                [](const RunResult& r) -> std::optional<double> { return r.acc; }));
      }
      for (const auto& d : conflict_sets) {
        row.push_back(StatsCell(Select(mine, [&](const RunResult& r) { return r.dataset == d; }),
                                [](const RunResult& r) { return r.semantic_bias_rate; }));
      }
      t.rows.push_back(std::move(row));
    }
  }
  t.notes.push_back("MODEL@CELL: MODEL trained with the cell's settings (the suite's `sweeps:`); the model's own row "
                    "is its setting in the suite. " + DatasetNote(datasets));
  return t;
}

std::optional<Table> ConflictTable(const std::vector<const RunResult*>& base, const TableInputs& in) {
  const PublishedNumbers& pub = in.published;
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

// The paper's Table 1 for the sets the runs were evaluated on, read from the first run of each set.
std::optional<Table> DatasetsTable(const std::vector<const RunResult*>& base, const TableInputs&) {
  Table t = NewTable("datasets", "Datasets: utterances, hours and classes after the label map", "set");
  AddStatisticColumns(t, {"kind", "utterances", "hours", "classes", "class names", "dropped"});
  bool unknown_hours = false;
  for (const auto& d : OrderedDatasets(base)) {
    const RunResult* first = nullptr;
    for (const auto* r : base) {
      if (r->dataset == d && (first == nullptr || r->path < first->path)) first = r;
    }
    const SetStatistics s = ReadSetStatistics(*first);
    char hours[32] = "–";
    if (s.hours) std::snprintf(hours, sizeof(hours), "%.2f", *s.hours);
    unknown_hours = unknown_hours || !s.hours;
    std::string names;
    for (const auto& c : s.classes) names += (names.empty() ? "" : ", ") + c;
    t.rows.push_back({TextCell(DisplayDataset(d)), TextCell(IsZeroShot(d) ? "zero-shot" : "in-domain"),
                      TextCell(std::to_string(s.utterances)), TextCell(hours),
                      TextCell(std::to_string(s.classes.size())), TextCell(names),
                      TextCell(std::to_string(s.dropped))});
  }
  t.notes.push_back(
      "The evaluation sets, as the runs scored them: utterances with a label after the label map, the hours of their "
      "manifest durations, the classes present in their truth, the utterances the label map dropped.");
  if (unknown_hours) t.notes.push_back("hours –: the manifest was not found, or an utterance has no duration.");
  return t;
}

std::string FormatInterval(const Interval& i) {
  return "[" + FormatDelta(100.0 * i.lo) + ", " + FormatDelta(100.0 * i.hi) + "]";
}

std::string JoinPValues(const std::vector<double>& p) {
  std::string s;
  for (const double v : p) s += (s.empty() ? "" : ", ") + FormatPValue(v);
  return s;
}

// Paired comparisons on each set: differences with bootstrap intervals, McNemar's test, Holm's correction.
std::optional<Table> ComparisonsTable(const std::vector<const RunResult*>&, const TableInputs& in) {
  if (in.comparisons.empty()) return std::nullopt;
  Table t = NewTable("comparisons", "Paired comparisons A - B (points; McNemar, bootstrap)", "set");
  bool bias = false;
  for (const auto& c : in.comparisons) bias = bias || !c.delta_bias.empty();
  AddStatisticColumns(t, {"A", "B", "seeds", "n", "ΔACC", "95% CI", "ΔUA", "95% CI (UA)", "A+B- / A-B+"});
  t.columns.push_back({"p", TableColumn::Kind::kPValue});
  AddStatisticColumns(t, {"p per seed"});
  t.columns.push_back({"p (Holm)", TableColumn::Kind::kPValue});
  if (bias) t.columns.push_back({"Δ semantic bias", TableColumn::Kind::kStatistic, true});
  for (const auto& c : in.comparisons) {
    std::vector<TableCell> row = {TextCell(DisplayDataset(c.dataset)),
                                  TextCell(c.a),
                                  TextCell(c.b),
                                  TextCell(std::to_string(c.seeds.size())),
                                  TextCell(std::to_string(c.utterances)),
                                  SeedsCell(c.delta_acc),
                                  TextCell(FormatInterval(c.ci.acc)),
                                  SeedsCell(c.delta_ua),
                                  TextCell(FormatInterval(c.ci.ua)),
                                  TextCell(std::to_string(c.a_only) + " / " + std::to_string(c.b_only)),
                                  NumberCell(c.p),
                                  TextCell(JoinPValues(c.p_seed)),
                                  NumberCell(c.p_holm)};
    if (c.significant) row.back().mark = "*";
    if (bias) row.push_back(SeedsCell(c.delta_bias));
    t.rows.push_back(std::move(row));
  }
  const ComparisonOptions& o = in.comparison;
  t.notes.push_back(
      "Δ: A - B in points over the utterances both scored, mean ± std over the seeds both were trained with; n: those "
      "utterances. " +
      General(100.0 * o.level) + "% CI: paired percentile bootstrap of the mean-over-seeds difference, " +
      std::to_string(o.resamples) + " resamples of utterances (each with its predictions under every seed), seed " +
      std::to_string(o.bootstrap_seed) + ".");
  t.notes.push_back(
      "p: McNemar's exact test (binomial on the discordant pairs A+B- / A-B+) pooled over seeds, pairs by utterance "
      "and seed; p per seed: the same test on each seed alone. p (Holm): Holm-corrected over the comparisons of the "
      "same set; *: p (Holm) < " +
      General(o.alpha) +
      ". Pooled pairs of one utterance under several seeds are not independent, so the pooled p leans optimistic "
      "where seeds agree; the bootstrap interval, which resamples utterances, does not.");
  if (bias) {
    t.notes.push_back(
        "Δ semantic bias: the difference in the share of conflict utterances predicted as their words' emotion "
        "(negative: A follows the words less).");
  }
  return t;
}

}  // namespace

const TableRegistry& PaperTableKinds() {
  static const TableRegistry registry = [] {
    using Runs = TableKind::Runs;
    TableRegistry r;
    r.Register({"datasets", Runs::kModels, DatasetsTable});
    r.Register({"main", Runs::kModels, MainTable});
    r.Register({"conflict", Runs::kModels, ConflictTable});
    r.Register({"comparisons", Runs::kModels, ComparisonsTable});
    r.Register({"ablation", Runs::kModels, AblationTable});
    r.Register({"token_budget", Runs::kAll, TokenBudgetTable});
    r.Register({"queries", Runs::kAll, QueriesTable});
    r.Register({"sweeps", Runs::kAll, SweepsTable});
    return r;
  }();
  return registry;
}

}  // namespace fas

// Table kinds by name: the paper's six and the comparisons in print order, one registration a name, and building any
// registry.
#include <gtest/gtest.h>

#include "fas/core/error.h"
#include "fas/eval/table_registry.h"
#include "fas/eval/table_stats.h"

namespace {

fas::RunResult Result(const std::string& model, double acc) {
  fas::RunResult r;
  r.model = model;
  r.run_dir = model;
  r.dataset = "test";
  r.acc = acc;
  return r;
}

// One row a run: its name and accuracy.
std::optional<fas::Table> Listing(const std::string& name, const std::vector<const fas::RunResult*>& runs) {
  fas::Table t;
  t.name = name;
  t.columns = {{"run", fas::TableColumn::Kind::kLabel}, {"acc", fas::TableColumn::Kind::kOurs}};
  for (const auto* r : runs) {
    fas::TableCell label, acc;
    label.kind = fas::TableCell::Kind::kText;
    label.text = r->model;
    acc.kind = fas::TableCell::Kind::kStats;
    acc.stats = fas::Aggregate({r->acc, r->acc + 0.1});
    t.rows.push_back({label, acc});
  }
  return t;
}

TEST(TableRegistry, ThePaperKindsInPrintOrder) {
  const std::vector<std::string> names = {"datasets", "main",         "conflict", "comparisons",
                                          "ablation", "token_budget", "queries",  "sweeps"};
  EXPECT_EQ(fas::PaperTableKinds().names(), names);
  EXPECT_EQ(fas::PaperTableKinds().Find("ablation")->runs, fas::TableKind::Runs::kModels);
  EXPECT_EQ(fas::PaperTableKinds().Find("queries")->runs, fas::TableKind::Runs::kAll);
  EXPECT_EQ(fas::PaperTableKinds().Find("html"), nullptr);
}

TEST(TableRegistry, ANameRegistersOnce) {
  fas::TableRegistry r;
  r.Register({"mine", fas::TableKind::Runs::kAll, nullptr});
  EXPECT_THROW(r.Register({"mine", fas::TableKind::Runs::kModels, nullptr}), fas::Error);
  EXPECT_EQ(r.kinds().size(), 1u);
}

TEST(TableRegistry, BuildsEachKindFromItsRunsWithTheStandardNotes) {
  fas::TableRegistry r;
  r.Register(
      {"models", fas::TableKind::Runs::kModels, [](const auto& runs, const auto&) { return Listing("models", runs); }});
  r.Register({"everything", fas::TableKind::Runs::kAll,
              [](const auto& runs, const auto&) { return Listing("everything", runs); }});
  r.Register(
      {"nothing", fas::TableKind::Runs::kAll, [](const auto&, const auto&) { return std::optional<fas::Table>(); }});
  const std::vector<fas::RunResult> results = {Result("fas", 0.5), Result("fas@k_aco4", 0.7), Result("gated", 0.6)};
  const auto tables = fas::BuildTables(r, results, fas::PublishedNumbers());
  ASSERT_EQ(tables.size(), 2u) << "a kind with nothing to show is left out";
  EXPECT_EQ(tables[0].name, "models");
  EXPECT_EQ(tables[0].rows.size(), 2u) << "sweep cells are not the suite's models";
  EXPECT_EQ(tables[1].rows.size(), 3u);
  EXPECT_TRUE(tables[1].rows[1][1].best);
  const std::vector<std::string> notes = {"Ours: mean ± standard deviation over seeds (up to 2).",
                                          "Best of ours per column in bold."};
  EXPECT_EQ(tables[1].notes, notes);

  const std::vector<fas::RunResult> sweeps_only = {Result("fas@k_aco4", 0.7)};
  EXPECT_EQ(fas::BuildTables(r, sweeps_only, fas::PublishedNumbers()).size(), 1u) << "no models: only `everything`";
}

}  // namespace

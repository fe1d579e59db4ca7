#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "fas/core/error.h"
#include "fas/data/labels.h"
#include "fas/eval/metrics.h"
#include "fas/eval/results.h"
#include "support/test_support.h"

namespace {

const std::vector<std::string> kOrder = {"a", "b", "c", "d"};

fas::Prediction P(const std::string& label, const std::string& pred, const std::string& text = "",
                  std::optional<bool> conflict = std::nullopt) {
  fas::Prediction p;
  p.id = "u" + label + pred + text;
  p.label = label;
  p.pred = pred;
  p.text_label = text;
  p.conflict = conflict;
  return p;
}

// truth a a b b c, prediction a b b b a: worked out by hand below.
std::vector<fas::Prediction> HandCase() {
  return {P("a", "a", "b"), P("a", "b", "b"), P("b", "b", "b"), P("b", "b"), P("c", "a", "a", true)};
}

TEST(Metrics, MatchHandComputedValues) {
  const auto e = fas::Evaluate(HandCase(), kOrder);
  const auto& m = e.all;
  EXPECT_EQ(m.n, 5);
  EXPECT_EQ(m.labels, (std::vector<std::string>{"a", "b", "c"}));  // d is neither truth nor prediction
  EXPECT_EQ(m.confusion, (std::vector<std::vector<int64_t>>{{1, 1, 0}, {0, 2, 0}, {1, 0, 0}}));
  EXPECT_DOUBLE_EQ(m.acc, 3.0 / 5);
  EXPECT_DOUBLE_EQ(m.ua, (0.5 + 1.0 + 0.0) / 3);  // recalls a 1/2, b 2/2, c 0/1
  // F1: a 2*1/(2+2) = .5, b 2*2/(2+3) = .8, c 0.
  EXPECT_DOUBLE_EQ(m.macro_f1, (0.5 + 0.8 + 0.0) / 3);
  EXPECT_DOUBLE_EQ(m.weighted_f1, (0.5 * 2 + 0.8 * 2 + 0.0 * 1) / 5);
  EXPECT_DOUBLE_EQ(m.per_class[1].precision, 2.0 / 3);
  // Conflict: rows 1, 2 (label != text_label) and 5 (flag); row 4 has neither flag nor text label.
  EXPECT_EQ(e.conflict.n, 3);
  EXPECT_DOUBLE_EQ(e.conflict.acc, 1.0 / 3);
  EXPECT_EQ(e.congruent.n, 1);
  EXPECT_DOUBLE_EQ(e.congruent.acc, 1.0);
  ASSERT_TRUE(e.semantic_bias_rate.has_value());
  EXPECT_EQ(e.semantic_bias_n, 3);
  EXPECT_DOUBLE_EQ(*e.semantic_bias_rate, 2.0 / 3);  // rows 2 and 5 were predicted as their words' emotion
}

TEST(Metrics, ClassOnlyInPredictionCountsForF1ButNotForUa) {
  const auto m = fas::ComputeMetrics({"a", "a"}, {"a", "b"}, kOrder);
  EXPECT_EQ(m.labels, (std::vector<std::string>{"a", "b"}));
  EXPECT_DOUBLE_EQ(m.ua, 0.5);                         // only a is in the truth
  EXPECT_DOUBLE_EQ(m.macro_f1, (2.0 / 3 + 0.0) / 2);  // a: 2*1/(2+1); b: 0
}

TEST(Metrics, EmptyAndUnknownLabels) {
  const auto m = fas::ComputeMetrics({}, {}, kOrder);
  EXPECT_EQ(m.n, 0);
  EXPECT_EQ(m.acc, 0);
  EXPECT_THROW(fas::ComputeMetrics({"a"}, {"z"}, kOrder), fas::DataError);
  EXPECT_FALSE(fas::Evaluate({P("a", "a")}, kOrder).semantic_bias_rate.has_value());
}

void ExpectSame(const nlohmann::json& want, const fas::ClassificationMetrics& got, const std::string& where) {
  SCOPED_TRACE(where);
  ASSERT_EQ(got.n, want["n"].get<int64_t>());
  if (got.n == 0) return;
  EXPECT_NEAR(got.acc, want["acc"].get<double>(), 1e-12);
  EXPECT_NEAR(got.ua, want["ua"].get<double>(), 1e-12);
  EXPECT_NEAR(got.macro_f1, want["macro_f1"].get<double>(), 1e-12);
  EXPECT_NEAR(got.weighted_f1, want["weighted_f1"].get<double>(), 1e-12);
  EXPECT_EQ(got.labels, want["labels"].get<std::vector<std::string>>());
  EXPECT_EQ(got.confusion, want["confusion"].get<std::vector<std::vector<int64_t>>>());
}

TEST(Metrics, AgreeWithScikitLearn) {
  // Written by scripts/fixtures/make_metric_fixtures.py (accuracy_score, recall_score, f1_score,
  // confusion_matrix).
  const auto fixture =
      nlohmann::json::parse(fas::testing::ReadFile(fas::testing::SourceDir() + "/tests/fixtures/metrics/sklearn_cases.json"));
  const auto classes = fixture["classes"].get<std::vector<std::string>>();
  ASSERT_GE(fixture["cases"].size(), 3u);
  for (const auto& c : fixture["cases"]) {
    std::vector<fas::Prediction> preds;
    for (const auto& r : c["predictions"]) {
      fas::Prediction p;
      p.id = r["id"];
      p.label = r["label"];
      p.pred = r["pred"];
      p.text_label = r.value("text_label", "");
      if (r.contains("conflict")) p.conflict = r["conflict"].get<bool>();
      preds.push_back(p);
    }
    const auto e = fas::Evaluate(preds, classes);
    const auto& want = c["expected"];
    const std::string name = c["name"];
    ExpectSame(want, e.all, name);
    ExpectSame(want["conflict"], e.conflict, name + "/conflict");
    ExpectSame(want["congruent"], e.congruent, name + "/congruent");
    EXPECT_EQ(e.semantic_bias_n, want["conflict"]["semantic_bias_n"].get<int64_t>());
    if (want["conflict"]["semantic_bias_rate"].is_null()) {
      EXPECT_FALSE(e.semantic_bias_rate.has_value());
    } else {
      EXPECT_NEAR(e.semantic_bias_rate.value_or(-1), want["conflict"]["semantic_bias_rate"].get<double>(), 1e-12);
    }
  }
}

TEST(Results, WritesResultsAndPredictionsThatParse) {
  fas::testing::TempDir dir;
  auto preds = HandCase();
  for (auto& p : preds) p.probs = {0.4, 0.3, 0.2, 0.1};
  preds[0].acoustic_share = 0.75;
  fas::ResultsInfo info;
  info.model = "fas";
  info.dataset = "conflict";
  info.seed = 42;
  fas::LabelMapReport report;
  report.kept = 5;
  report.mapped["exc->happy"] = 2;
  report.dropped["xxx"] = 1;
  info.label_map = fas::LabelMapJson(report);
  fas::WriteEvaluation(dir / "eval/conflict", preds, kOrder, info);

  const auto results = nlohmann::json::parse(fas::testing::ReadFile(dir / "eval/conflict/results.json"));
  EXPECT_EQ(results["n"], 5);
  EXPECT_DOUBLE_EQ(results["acc"].get<double>(), 0.6);
  EXPECT_EQ(results["seed"], 42);
  EXPECT_EQ(results["model"], "fas");
  EXPECT_EQ(results["dataset"], "conflict");
  EXPECT_DOUBLE_EQ(results["conflict"]["semantic_bias_rate"].get<double>(), 2.0 / 3);
  EXPECT_EQ(results["congruent"]["n"], 1);
  EXPECT_EQ(results["label_map"]["dropped"]["xxx"], 1);
  EXPECT_EQ(results["confusion"][0][1], 1);

  std::ifstream in(dir / "eval/conflict/predictions.jsonl");
  std::string line;
  std::vector<nlohmann::json> lines;
  while (std::getline(in, line)) lines.push_back(nlohmann::json::parse(line));
  ASSERT_EQ(lines.size(), 5u);
  EXPECT_EQ(lines[0]["id"], preds[0].id);
  EXPECT_EQ(lines[1]["pred"], "b");
  EXPECT_DOUBLE_EQ(lines[0]["probs"]["a"].get<double>(), 0.4);
  EXPECT_DOUBLE_EQ(lines[0]["acoustic_share"].get<double>(), 0.75);
  EXPECT_EQ(lines[1]["conflict"], true);
  EXPECT_FALSE(lines[3].contains("conflict"));
  EXPECT_FALSE(lines[1].contains("acoustic_share"));
}

// An unlabelled prediction is written and not scored: counted as unlabelled, in no figure; with none labelled
// only predictions.jsonl is written (and an earlier results.json of the same name goes).
TEST(Results, UnlabelledPredictionsAreWrittenNotScored) {
  fas::testing::TempDir dir;
  auto preds = HandCase();
  preds.push_back(P("", "a", "b"));
  for (auto& p : preds) p.probs = {0.4, 0.3, 0.2, 0.1};
  fas::ResultsInfo info;
  info.skipped = 2;
  const fas::EvalMetrics m = fas::WriteEvaluation(dir / "e", preds, kOrder, info);
  EXPECT_EQ(m.all.n, 5);
  EXPECT_EQ(m.unlabelled, 1);
  EXPECT_EQ(m.conflict.n + m.congruent.n, 4);  // as without the unlabelled one
  const auto results = nlohmann::json::parse(fas::testing::ReadFile(dir / "e/results.json"));
  EXPECT_DOUBLE_EQ(results["acc"].get<double>(), 0.6);
  EXPECT_EQ(results["unlabelled"], 1);
  EXPECT_EQ(results["skipped"], 2);
  EXPECT_EQ(fas::testing::JsonLines(dir / "e/predictions.jsonl").size(), 6u);

  const fas::EvalMetrics none = fas::WriteEvaluation(dir / "e", {P("", "a"), P("", "b")}, kOrder, {});
  EXPECT_EQ(none.all.n, 0);
  EXPECT_EQ(none.unlabelled, 2);
  EXPECT_EQ(fas::testing::JsonLines(dir / "e/predictions.jsonl").size(), 2u);
  EXPECT_FALSE(std::filesystem::exists(dir / "e/results.json"));
}

TEST(Results, ConfusionTableNamesRowsAndColumns) {
  const auto text = fas::FormatConfusion(fas::Evaluate(HandCase(), kOrder).all);
  EXPECT_NE(text.find("truth\\pred"), std::string::npos);
  EXPECT_EQ(std::count(text.begin(), text.end(), '\n'), 4);
}

}  // namespace

// The three printed forms of a hand-made table, byte for byte, and the formats by name.
#include <gtest/gtest.h>

#include "fas/core/error.h"
#include "fas/eval/table_render.h"
#include "fas/eval/table_stats.h"
#include "support/test_support.h"

namespace {

fas::TableCell Text(const std::string& s) {
  fas::TableCell c;
  c.kind = fas::TableCell::Kind::kText;
  c.text = s;
  return c;
}

fas::TableCell Number(double v, bool unsure = false) {
  fas::TableCell c;
  c.kind = fas::TableCell::Kind::kNumber;
  c.number = v;
  c.unsure = unsure;
  return c;
}

fas::Table Example() {
  fas::Table t;
  t.name = "t";
  t.title = "T";
  t.columns = {{"model", fas::TableColumn::Kind::kLabel},
               {"acc", fas::TableColumn::Kind::kOurs},
               {"paper", fas::TableColumn::Kind::kPaper},
               {"params", fas::TableColumn::Kind::kParams}};
  fas::TableCell stats;
  stats.kind = fas::TableCell::Kind::kStats;
  stats.stats = fas::Aggregate({0.6, 0.7});
  stats.best = true;
  t.rows = {{Text("fas"), stats, Number(59.38, true), Number(3450000)},
            {Text("semantic_only"), fas::TableCell(), fas::TableCell(), Number(1234)}};
  t.notes = {"note"};
  return t;
}

TEST(TableRender, Markdown) {
  EXPECT_EQ(fas::RenderMarkdown(Example()),
            "### T\n\n"
            "| model         |              acc |  paper | params |\n"
            "| ------------- | ---------------: | -----: | -----: |\n"
            "| fas           | **65.00 ± 7.07** | 59.38? |  3.45M |\n"
            "| semantic_only |                – |      – |   1.2K |\n"
            "\nnote\n");
}

TEST(TableRender, Latex) {
  EXPECT_EQ(fas::RenderLatex(Example()),
            "% T (written by fas tables)\n\\begin{table}[t]\n\\centering\n\\caption{T}\n\\label{tab:t}\n"
            "\\begin{tabular}{lrrr}\n\\toprule\nmodel & acc & paper & params \\\\\n\\midrule\n"
            "fas & \\textbf{65.00 $\\pm$ 7.07} & 59.38? & 3.45M \\\\\n"
            "semantic\\_only & -- & -- & 1.2K \\\\\n"
            "\\bottomrule\n\\end{tabular}\n% note\n\\end{table}\n");
}

TEST(TableRender, Csv) {
  auto t = Example();
  t.rows[1][0] = Text("semantic_only, \"v2\"");
  EXPECT_EQ(fas::RenderCsv(t),
            "table,row,column,kind,mean,std,n,best,mark\n"
            "t,fas,acc,ours,65.00,7.07,2,1,\n"
            "t,fas,paper,paper,59.38,,,0,\n"
            "t,fas,params,params,3450000,,,0,\n"
            "t,\"semantic_only, \"\"v2\"\"\",params,params,1234,,,0,\n");
}

TEST(TableRender, ComparisonCellsTextPValuesAndMarks) {
  fas::Table t;
  t.name = "c";
  t.title = "C";
  t.columns = {{"set", fas::TableColumn::Kind::kLabel},
               {"95% CI", fas::TableColumn::Kind::kStatistic},
               {"p", fas::TableColumn::Kind::kPValue}};
  fas::TableCell p = Number(0.0000123);
  p.mark = "*";
  t.rows = {{Text("conflict"), Text("[+1.00, +2.50]"), p}, {Text("test"), Text("[-1.00, +0.50]"), Number(0.25)}};
  EXPECT_EQ(fas::RenderCsv(t),
            "table,row,column,kind,mean,std,n,best,mark\n"
            "c,conflict,95% CI,text,\"[+1.00, +2.50]\",,,0,\n"
            "c,conflict,p,p,1.23e-05,,,0,*\n"
            "c,test,95% CI,text,\"[-1.00, +0.50]\",,,0,\n"
            "c,test,p,p,0.25,,,0,\n");
  const std::string md = fas::RenderMarkdown(t);
  EXPECT_NE(md.find("| 1.2e-05* |"), std::string::npos) << md;
  EXPECT_NE(md.find(" 0.250 |"), std::string::npos) << md;
  EXPECT_EQ(fas::FormatPValue(0.001), "0.001");
  EXPECT_EQ(fas::FormatDelta(-0.4), "-0.40");
  EXPECT_EQ(fas::FormatDelta(1.25), "+1.25");
}

TEST(TableRender, FormatsByName) {
  const std::vector<std::string> names = {"md", "tex", "csv"};
  EXPECT_EQ(fas::TableFormatNames(), names);
  ASSERT_NE(fas::FindTableFormat("tex"), nullptr);
  EXPECT_EQ(fas::FindTableFormat("tex")->render(Example()), fas::RenderLatex(Example()));
  EXPECT_EQ(fas::FindTableFormat("html"), nullptr);
  fas::testing::TempDir d;
  try {
    fas::WriteTables({Example()}, d / "out", {"md", "html"});
    FAIL() << "expected an error";
  } catch (const fas::ConfigError& e) {
    EXPECT_STREQ(e.what(), "unknown table format 'html' (known: md, tex, csv)");
  }
  EXPECT_EQ(fas::WriteTables({Example()}, d / "out", {"csv"}), std::vector<std::string>{d / "out/t.csv"});
}

}  // namespace

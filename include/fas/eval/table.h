// A table as the builders make it and the renderers print it: columns of one kind each, rows of cells.
#pragma once

#include <string>
#include <vector>

namespace fas {

// Mean and sample standard deviation (n - 1) of one cell over seeds, in percent.
struct SeedStats {
  double mean = 0, std = 0;
  int n = 0;
};

struct TableCell {
  enum class Kind { kEmpty, kStats, kNumber, kText };
  Kind kind = Kind::kEmpty;
  SeedStats stats;    // kStats (percent)
  double number = 0;  // kNumber: a published percentage, or a parameter count
  std::string text;   // kText
  bool best = false;
  bool unsure = false;  // a published number the sources disagree on
  std::string mark;     // printed after the value: a significance mark (*, †)
};

struct TableColumn {
  // kStatistic: a comparison's figure (a difference, a count), never marked best; kPValue: a number printed as a
  // p-value.
  enum class Kind { kLabel, kOurs, kPaper, kParams, kStatistic, kPValue };
  std::string header;
  Kind kind = Kind::kOurs;
  bool lower_is_better = false;  // semantic bias rate
};

struct Table {
  std::string name;  // file stem and the table kind's name: main, ablation, token_budget, queries, conflict
  std::string title;
  std::vector<TableColumn> columns;
  std::vector<std::vector<TableCell>> rows;  // rows[r][c]; column 0 is the row label
  std::vector<std::string> notes;            // printed under the table
  // The best cell of the whole table is marked (a grid over two settings is one comparison), not the best of each
  // column.
  bool best_of_table = false;
};

}  // namespace fas

// Printing tables: Markdown, LaTeX (booktabs) and long-form CSV, and writing them as files.
#pragma once

#include <string>
#include <vector>

#include "fas/eval/table.h"

namespace fas {

std::string RenderMarkdown(const Table& table);
std::string RenderLatex(const Table& table);
// Long form, one line a cell: table,row,column,kind,mean,std,n,best,mark (kind: ours | paper | params | statistic |
// p | text; a text cell's text is in `mean`).
std::string RenderCsv(const Table& table);

struct TableFormat {
  std::string name;  // the file extension
  std::string (*render)(const Table&);
};
// md, tex, csv.
const std::vector<TableFormat>& TableFormats();
std::vector<std::string> TableFormatNames();
const TableFormat* FindTableFormat(const std::string& name);

// Writes DIR/NAME.EXT for each table and each format asked (TableFormats' names); returns the files written.
std::vector<std::string> WriteTables(const std::vector<Table>& tables, const std::string& dir,
                                     const std::vector<std::string>& formats);

}  // namespace fas

#include "fas/eval/table_render.h"

#include <fmt/ranges.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "fas/core/error.h"
#include "fas/eval/table_stats.h"

namespace fs = std::filesystem;

namespace fas {

namespace {

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

// The text of a cell without emphasis or mark; `pm` is how ± is written.
std::string CellValue(const TableCell& c, const TableColumn& col, const std::string& pm) {
  switch (c.kind) {
    case TableCell::Kind::kEmpty:
      return "–";
    case TableCell::Kind::kText:
      return c.text;
    case TableCell::Kind::kNumber:
      if (col.kind == TableColumn::Kind::kPValue) return FormatPValue(c.number);
      return (col.kind == TableColumn::Kind::kParams ? Params(c.number) : FormatPercent(c.number)) +
             (c.unsure ? "?" : "");
    case TableCell::Kind::kStats:
      return c.stats.n >= 2 ? FormatPercent(c.stats.mean) + pm + FormatPercent(c.stats.std)
                            : FormatPercent(c.stats.mean);
  }
  return "";
}

std::string CellText(const TableCell& c, const TableColumn& col, const std::string& pm) {
  return CellValue(c, col, pm) + c.mark;
}

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
  // UTF-8 symbols have LaTeX spellings that work without inputenc tricks.
  static const std::vector<std::pair<std::string, std::string>> kSymbols = {
      {"–", "--"}, {"±", "$\\pm$"}, {"†", "$^\\dagger$"}, {"Δ", "$\\Delta$"}};
  std::string fixed;
  for (size_t i = 0; i < out.size();) {
    const auto symbol = std::find_if(kSymbols.begin(), kSymbols.end(),
                                     [&](const auto& s) { return out.compare(i, s.first.size(), s.first) == 0; });
    if (symbol == kSymbols.end()) {
      fixed += out[i++];
    } else {
      fixed += symbol->second;
      i += symbol->first.size();
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
  for (size_t c = 0; c < width.size(); ++c)
    out += c == 0 ? " " + std::string(width[c], '-') + " |" : " " + std::string(width[c] - 1, '-') + ": |";
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
  std::string out = "table,row,column,kind,mean,std,n,best,mark\n";
  for (const auto& row : table.rows) {
    const std::string label = row.empty() ? "" : CellText(row[0], table.columns[0], "");
    for (size_t c = 1; c < row.size(); ++c) {
      const TableCell& cell = row[c];
      const TableColumn& col = table.columns[c];
      if (cell.kind == TableCell::Kind::kEmpty || col.kind == TableColumn::Kind::kLabel) continue;
      const char* kind = cell.kind == TableCell::Kind::kText         ? "text"
                         : col.kind == TableColumn::Kind::kPaper     ? "paper"
                         : col.kind == TableColumn::Kind::kParams    ? "params"
                         : col.kind == TableColumn::Kind::kStatistic ? "statistic"
                         : col.kind == TableColumn::Kind::kPValue    ? "p"
                                                                     : "ours";
      std::ostringstream line;
      line << table.name << "," << CsvField(label) << "," << CsvField(col.header) << "," << kind << ",";
      if (cell.kind == TableCell::Kind::kText) {
        line << CsvField(cell.text) << ",,";
      } else if (cell.kind == TableCell::Kind::kStats) {
        line << FormatPercent(cell.stats.mean) << "," << (cell.stats.n >= 2 ? FormatPercent(cell.stats.std) : "") << ","
             << cell.stats.n;
      } else {
        char buf[32];
        std::snprintf(buf, sizeof(buf), "%.10g", cell.number);
        line << buf << ",,";
      }
      line << "," << (cell.best ? "1" : "0") << "," << CsvField(cell.mark) << "\n";
      out += line.str();
    }
  }
  return out;
}

const std::vector<TableFormat>& TableFormats() {
  static const std::vector<TableFormat> formats = {{"md", RenderMarkdown}, {"tex", RenderLatex}, {"csv", RenderCsv}};
  return formats;
}

std::vector<std::string> TableFormatNames() {
  std::vector<std::string> out;
  for (const auto& f : TableFormats()) out.push_back(f.name);
  return out;
}

const TableFormat* FindTableFormat(const std::string& name) {
  for (const auto& f : TableFormats()) {
    if (f.name == name) return &f;
  }
  return nullptr;
}

std::vector<std::string> WriteTables(const std::vector<Table>& tables, const std::string& dir,
                                     const std::vector<std::string>& formats) {
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec) throw IoError("cannot create " + dir + ": " + ec.message());
  std::vector<std::string> written;
  for (const auto& t : tables) {
    for (const auto& f : formats) {
      const TableFormat* format = FindTableFormat(f);
      if (format == nullptr) {
        throw ConfigError(fmt::format("unknown table format '{}' (known: {})", f, fmt::join(TableFormatNames(), ", ")));
      }
      const std::string body = format->render(t);
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

#include "common.h"

#include <iconv.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <fstream>
#include <sstream>

#include "fas/core/error.h"

namespace fas::prepare {

namespace {

constexpr int kMaxDepth = 16;         // deeper than any distributor's archive; stops symlink cycles
constexpr size_t kExamplesPerSkip = 3;

bool IsResourceFork(const fs::path& p) {
  const std::string name = p.filename().string();
  return name.rfind("._", 0) == 0 || name == "__MACOSX" || name == ".DS_Store";
}

std::string Iconv(const std::string& bytes, const char* from) {
  iconv_t cd = iconv_open("UTF-8", from);
  if (cd == reinterpret_cast<iconv_t>(-1)) throw IoError(std::string("iconv cannot convert from ") + from);
  std::string out(bytes.size() * 4 + 16, '\0');
  char* in_ptr = const_cast<char*>(bytes.data());
  size_t in_left = bytes.size();
  char* out_ptr = out.data();
  size_t out_left = out.size();
  const size_t rc = iconv(cd, &in_ptr, &in_left, &out_ptr, &out_left);
  const int err = errno;
  iconv_close(cd);
  if (rc == static_cast<size_t>(-1)) {
    throw IoError(std::string("text is neither UTF-8 nor ") + from + " (byte " +
                  std::to_string(bytes.size() - in_left) + (err == EILSEQ ? ": invalid sequence)" : ")"));
  }
  out.resize(out.size() - out_left);
  return out;
}

}  // namespace

void ScanResult::Skip(const std::string& reason, const std::string& example) {
  const int n = ++skipped[reason];
  if (static_cast<size_t>(n) <= kExamplesPerSkip) warnings.push_back(reason + ": " + example);
}

Tree WalkTree(const fs::path& root) {
  Tree tree;
  std::error_code ec;
  fs::recursive_directory_iterator it(
      root, fs::directory_options::follow_directory_symlink | fs::directory_options::skip_permission_denied, ec);
  if (ec) throw IoError("cannot read folder " + root.string() + ": " + ec.message());
  for (; it != fs::recursive_directory_iterator(); it.increment(ec)) {
    if (ec) throw IoError("cannot read below " + root.string() + ": " + ec.message());
    const fs::path& p = it->path();
    if (IsResourceFork(p)) {
      if (it->is_directory(ec)) it.disable_recursion_pending();
      continue;
    }
    if (it->is_directory(ec)) {
      tree.dirs.push_back(p);
      if (it.depth() >= kMaxDepth) it.disable_recursion_pending();
    } else if (it->is_regular_file(ec)) {
      tree.files.push_back(p);
    }
  }
  std::sort(tree.dirs.begin(), tree.dirs.end());
  std::sort(tree.files.begin(), tree.files.end());
  return tree;
}

std::vector<fs::path> FilesNamed(const Tree& tree, const std::function<bool(const std::string&)>& pred) {
  std::vector<fs::path> out;
  for (const auto& f : tree.files) {
    if (pred(f.filename().string())) out.push_back(f);
  }
  return out;
}

std::vector<fs::path> DirsEndingWith(const Tree& tree, const std::string& suffix) {
  const std::vector<std::string> want = Split(suffix, '/');
  std::vector<fs::path> out;
  for (const auto& d : tree.dirs) {
    std::vector<std::string> parts;
    for (const auto& c : d) parts.push_back(c.string());
    if (parts.size() < want.size()) continue;
    if (std::equal(want.rbegin(), want.rend(), parts.rbegin())) out.push_back(d);
  }
  return out;
}

bool IsAudioExtension(const std::string& ext) {
  const std::string e = Lower(ext);
  return e == ".wav" || e == ".flac";
}

std::string Lower(std::string s) {
  for (auto& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

std::string Trim(const std::string& s) {
  const auto b = s.find_first_not_of(" \t\r\n");
  if (b == std::string::npos) return "";
  const auto e = s.find_last_not_of(" \t\r\n");
  return s.substr(b, e - b + 1);
}

std::vector<std::string> Split(const std::string& s, char sep) {
  std::vector<std::string> out;
  std::string cur;
  for (char c : s) {
    if (c == sep) {
      out.push_back(cur);
      cur.clear();
    } else {
      cur += c;
    }
  }
  out.push_back(cur);
  return out;
}

bool IsValidUtf8(const std::string& s) {
  size_t i = 0;
  while (i < s.size()) {
    const auto c = static_cast<unsigned char>(s[i]);
    int n = 0;
    if (c < 0x80) {
      n = 0;
    } else if (c >= 0xC2 && c <= 0xDF) {
      n = 1;
    } else if (c >= 0xE0 && c <= 0xEF) {
      n = 2;
    } else if (c >= 0xF0 && c <= 0xF4) {
      n = 3;
    } else {
      return false;
    }
    for (int k = 1; k <= n; ++k) {
      if (i + k >= s.size() || (static_cast<unsigned char>(s[i + k]) & 0xC0) != 0x80) return false;
    }
    i += n + 1;
  }
  return true;
}

std::string ToUtf8(const std::string& bytes, const char* fallback_encoding) {
  if (bytes.size() >= 2) {
    const auto b0 = static_cast<unsigned char>(bytes[0]), b1 = static_cast<unsigned char>(bytes[1]);
    if ((b0 == 0xFF && b1 == 0xFE) || (b0 == 0xFE && b1 == 0xFF)) return Iconv(bytes, "UTF-16");
  }
  std::string s = bytes;
  if (s.rfind("\xEF\xBB\xBF", 0) == 0) s.erase(0, 3);
  if (IsValidUtf8(s)) return s;
  return Iconv(s, fallback_encoding);
}

std::string ReadText(const fs::path& path, const char* fallback_encoding) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw IoError("cannot open " + path.string());
  std::stringstream ss;
  ss << in.rdbuf();
  try {
    return ToUtf8(ss.str(), fallback_encoding);
  } catch (const IoError& e) {
    throw IoError(path.string() + ": " + e.what());
  }
}

int CsvTable::Column(const std::string& name) const {
  for (size_t i = 0; i < header.size(); ++i) {
    if (header[i] == name) return static_cast<int>(i);
  }
  return -1;
}

int CsvTable::Require(const std::string& name) const {
  const int c = Column(name);
  if (c >= 0) return c;
  std::string found;
  for (const auto& h : header) found += (found.empty() ? "" : ", ") + h;
  throw DataError(path + ": no column '" + name + "' (columns: " + found + ")");
}

CsvTable ReadCsv(const fs::path& path, const char* fallback_encoding) {
  const std::string text = ReadText(path, fallback_encoding);
  CsvTable table;
  table.path = path.string();
  std::vector<std::vector<std::string>> records;
  std::vector<std::string> record;
  std::string cell;
  bool quoted = false, cell_started = false;
  int line = 1, record_line = 1;
  auto end_cell = [&] {
    record.push_back(cell);
    cell.clear();
    cell_started = false;
  };
  auto end_record = [&] {
    end_cell();
    const bool blank = record.size() == 1 && Trim(record[0]).empty();
    if (!blank) {
      records.push_back(record);
      table.lines.push_back(record_line);
    }
    record.clear();
  };
  for (size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (quoted) {
      if (c == '"') {
        if (i + 1 < text.size() && text[i + 1] == '"') {
          cell += '"';
          ++i;
        } else {
          quoted = false;
        }
      } else {
        if (c == '\n') ++line;
        cell += c;
      }
      continue;
    }
    if (c == '"' && !cell_started) {
      quoted = cell_started = true;
    } else if (c == ',') {
      end_cell();
    } else if (c == '\n' || c == '\r') {
      if (c == '\r' && i + 1 < text.size() && text[i + 1] == '\n') ++i;
      end_record();
      ++line;
      record_line = line;
    } else {
      cell += c;
      cell_started = true;
    }
  }
  if (quoted) throw DataError(table.path + ":" + std::to_string(record_line) + ": unterminated quoted field");
  if (!cell.empty() || !record.empty()) end_record();
  if (records.empty()) throw DataError(table.path + ": empty CSV file");
  table.header = records.front();
  for (auto& h : table.header) h = Trim(h);
  table.rows.assign(records.begin() + 1, records.end());
  table.lines.erase(table.lines.begin());
  return table;
}

int ParseInt(const std::string& s, const std::string& where) {
  const std::string t = Trim(s);
  size_t used = 0;
  int v = 0;
  try {
    v = std::stoi(t, &used);
  } catch (const std::exception&) {
    used = 0;
  }
  if (t.empty() || used != t.size()) throw DataError(where + ": '" + s + "' is not an integer");
  return v;
}

double ParseDouble(const std::string& s, const std::string& where) {
  const std::string t = Trim(s);
  size_t used = 0;
  double v = 0;
  try {
    v = std::stod(t, &used);
  } catch (const std::exception&) {
    used = 0;
  }
  if (t.empty() || used != t.size()) throw DataError(where + ": '" + s + "' is not a number");
  return v;
}

void ThrowMissing(const std::string& corpus, const fs::path& root, const std::string& what) {
  throw DataError(corpus + ": " + what + " below " + root.string() +
                  " (is --root the folder the download was unpacked into? see docs/corpora.md)");
}

}  // namespace fas::prepare

// Shared by the corpus preparers: walking an unpacked download, reading CSV and text in the encodings the
// distributors used, and the raw record each preparer hands to PrepareCorpus (prepare.cpp).
#pragma once

#include <filesystem>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "fas/data/manifest.h"

namespace fas::prepare {

namespace fs = std::filesystem;

// One utterance as a corpus describes it, before label mapping and splitting. `u.audio` holds an absolute path;
// `u.split` the distributor's split (or "" when it has none); `label` / `text_label` the corpus's own names.
struct RawUtterance {
  Utterance u;
  std::string label;
  std::string text_label;
};

struct ScanResult {
  std::vector<RawUtterance> items;
  std::string default_split;                // split for items without one (no distributor split)
  std::map<std::string, int> skipped;       // reason -> count
  std::vector<std::string> warnings;

  // Counts a skip and keeps the first few examples of each reason as warnings.
  void Skip(const std::string& reason, const std::string& example);
};

using Scanner = ScanResult (*)(const fs::path& root);

ScanResult ScanIemocap(const fs::path& root);
ScanResult ScanMeld(const fs::path& root);
ScanResult ScanRavdess(const fs::path& root);
ScanResult ScanEsd(const fs::path& root);
ScanResult ScanMosei(const fs::path& root);
ScanResult ScanMer2024(const fs::path& root);
ScanResult ScanCase(const fs::path& root);
ScanResult ScanEmis(const fs::path& root);
ScanResult ScanEmoEmilia(const fs::path& root);
ScanResult ScanEmovo(const fs::path& root);
ScanResult ScanEmodb(const fs::path& root);

// Every directory and regular file below `root` (symlinks followed, depth-limited against cycles), sorted, with
// macOS resource forks (`._x`, `__MACOSX/`) left out.
struct Tree {
  std::vector<fs::path> dirs, files;
};
Tree WalkTree(const fs::path& root);

// Files whose name (not path) satisfies `pred`.
std::vector<fs::path> FilesNamed(const Tree& tree, const std::function<bool(const std::string&)>& pred);
// Directories whose path ends with the components of `suffix` (e.g. "dialog/EmoEvaluation").
std::vector<fs::path> DirsEndingWith(const Tree& tree, const std::string& suffix);

bool IsAudioExtension(const std::string& ext);  // .wav, .flac (what libsndfile reads without extra codecs)

// Lower-case ASCII; the corpora's label spellings differ only in case.
std::string Lower(std::string s);
std::string Trim(const std::string& s);
std::vector<std::string> Split(const std::string& s, char sep);

// Text as UTF-8: a UTF-16 BOM or a UTF-8 BOM is honoured; bytes that are not valid UTF-8 are read as
// `fallback_encoding` (an iconv name such as "CP1252" or "GB18030"). Throws IoError naming the file.
std::string ReadText(const fs::path& path, const char* fallback_encoding);
std::string ToUtf8(const std::string& bytes, const char* fallback_encoding);
bool IsValidUtf8(const std::string& s);

// RFC 4180 CSV (quoted fields, doubled quotes, newlines inside quotes). Cells are UTF-8 (see ReadText).
struct CsvTable {
  std::string path;
  std::vector<std::string> header;
  std::vector<std::vector<std::string>> rows;
  std::vector<int> lines;  // 1-based line where each row starts

  int Column(const std::string& name) const;  // -1 when absent
  // The index of a column that must exist; DataError naming the file and the columns found otherwise.
  int Require(const std::string& name) const;
};
CsvTable ReadCsv(const fs::path& path, const char* fallback_encoding = "CP1252");

// Numbers in metadata; DataError naming `where` (file:line) on anything else.
int ParseInt(const std::string& s, const std::string& where);
double ParseDouble(const std::string& s, const std::string& where);

// The error for a tree that is not the corpus: names the corpus, the root and what was looked for.
[[noreturn]] void ThrowMissing(const std::string& corpus, const fs::path& root, const std::string& what);

}  // namespace fas::prepare

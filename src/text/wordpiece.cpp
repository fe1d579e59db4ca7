#include "fas/text/wordpiece.h"

#include <utf8proc.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "fas/core/error.h"

namespace fs = std::filesystem;

namespace fas {
namespace {

using nlohmann::json;

constexpr int32_t kReplacement = 0xFFFD;

// UTF-8 to code points; a byte that starts no valid sequence becomes U+FFFD, which normalisation then removes
// (HuggingFace's tokenizers only ever see valid text, and drop U+FFFD).
std::vector<int32_t> ToCodePoints(const std::string& s) {
  std::vector<int32_t> out;
  out.reserve(s.size());
  const auto* p = reinterpret_cast<const utf8proc_uint8_t*>(s.data());
  utf8proc_ssize_t left = static_cast<utf8proc_ssize_t>(s.size());
  while (left > 0) {
    utf8proc_int32_t cp = 0;
    const utf8proc_ssize_t n = utf8proc_iterate(p, left, &cp);
    if (n <= 0) {
      out.push_back(kReplacement);
      ++p;
      --left;
    } else {
      out.push_back(cp);
      p += n;
      left -= n;
    }
  }
  return out;
}

void Append(std::string& out, int32_t cp) {
  utf8proc_uint8_t buf[4];
  const utf8proc_ssize_t n = utf8proc_encode_char(cp, buf);
  out.append(reinterpret_cast<const char*>(buf), static_cast<size_t>(n));
}

std::string ToUtf8(const std::vector<int32_t>& cps, size_t begin, size_t end) {
  std::string out;
  for (size_t i = begin; i < end; ++i) Append(out, cps[i]);
  return out;
}

bool IsWhitespace(int32_t cp) {
  if (cp == ' ' || cp == '\t' || cp == '\n' || cp == '\r') return true;
  const auto c = utf8proc_category(cp);
  return c == UTF8PROC_CATEGORY_ZS || c == UTF8PROC_CATEGORY_ZL || c == UTF8PROC_CATEGORY_ZP;
}

// Removed by normalisation: control, format, private-use and surrogate characters (unassigned ones stay), except
// the tab and line breaks, which are whitespace.
bool IsControl(int32_t cp) {
  if (cp == '\t' || cp == '\n' || cp == '\r') return false;
  const auto c = utf8proc_category(cp);
  return c == UTF8PROC_CATEGORY_CC || c == UTF8PROC_CATEGORY_CF || c == UTF8PROC_CATEGORY_CO ||
         c == UTF8PROC_CATEGORY_CS;
}

// Every ASCII non-alphanumeric printable character counts, as BERT's original tokenizer had it ("$", "^", "`"
// are symbols, not punctuation, for Unicode), and every Unicode punctuation category.
bool IsPunctuation(int32_t cp) {
  if ((cp >= 33 && cp <= 47) || (cp >= 58 && cp <= 64) || (cp >= 91 && cp <= 96) || (cp >= 123 && cp <= 126)) {
    return true;
  }
  const auto c = utf8proc_category(cp);
  return c == UTF8PROC_CATEGORY_PC || c == UTF8PROC_CATEGORY_PD || c == UTF8PROC_CATEGORY_PS ||
         c == UTF8PROC_CATEGORY_PE || c == UTF8PROC_CATEGORY_PI || c == UTF8PROC_CATEGORY_PF ||
         c == UTF8PROC_CATEGORY_PO;
}

// The CJK Unified Ideographs blocks and their extensions and compatibility blocks (not kana or Hangul, which are
// written with spaces between words).
bool IsChinese(int32_t cp) {
  return (cp >= 0x4E00 && cp <= 0x9FFF) || (cp >= 0x3400 && cp <= 0x4DBF) || (cp >= 0x20000 && cp <= 0x2A6DF) ||
         (cp >= 0x2A700 && cp <= 0x2B73F) || (cp >= 0x2B740 && cp <= 0x2B81F) || (cp >= 0x2B820 && cp <= 0x2CEAF) ||
         (cp >= 0xF900 && cp <= 0xFAFF) || (cp >= 0x2F800 && cp <= 0x2FA1F);
}

// NFD, then nonspacing marks dropped: "déjà" -> "deja".
std::vector<int32_t> StripAccents(const std::vector<int32_t>& cps) {
  const std::string utf8 = ToUtf8(cps, 0, cps.size());
  const auto* p = reinterpret_cast<const utf8proc_uint8_t*>(utf8.data());
  const auto options = static_cast<utf8proc_option_t>(UTF8PROC_STABLE | UTF8PROC_DECOMPOSE);
  std::vector<int32_t> nfd(cps.size() + 4);
  utf8proc_ssize_t n = utf8proc_decompose(p, static_cast<utf8proc_ssize_t>(utf8.size()), nfd.data(),
                                          static_cast<utf8proc_ssize_t>(nfd.size()), options);
  if (n > static_cast<utf8proc_ssize_t>(nfd.size())) {  // the buffer was too small: n is the size needed
    nfd.resize(static_cast<size_t>(n));
    n = utf8proc_decompose(p, static_cast<utf8proc_ssize_t>(utf8.size()), nfd.data(), n, options);
  }
  if (n < 0) throw DataError(std::string("wordpiece: cannot decompose text: ") + utf8proc_errmsg(n));
  nfd.resize(static_cast<size_t>(n));
  nfd.erase(
      std::remove_if(nfd.begin(), nfd.end(), [](int32_t cp) { return utf8proc_category(cp) == UTF8PROC_CATEGORY_MN; }),
      nfd.end());
  return nfd;
}

// Full lower-case mapping, one character at a time: utf8proc's simple mapping, except for the one character whose
// unconditional full mapping is two ("İ" -> "i" + combining dot above). No context (a final sigma stays "σ").
void Lowercase(std::vector<int32_t>& cps) {
  std::vector<int32_t> out;
  out.reserve(cps.size());
  for (int32_t cp : cps) {
    if (cp == 0x130) {
      out.push_back('i');
      out.push_back(0x307);
    } else {
      out.push_back(utf8proc_tolower(cp));
    }
  }
  cps.swap(out);
}

std::string SpecialToken(const json& config, const char* key, const std::string& fallback, const std::string& path) {
  if (!config.contains(key) || config[key].is_null()) return fallback;
  const json& v = config[key];
  if (v.is_string()) return v.get<std::string>();
  // Saved AddedToken objects: {"content": "[UNK]", "lstrip": false, ...}.
  if (v.is_object() && v.contains("content") && v["content"].is_string()) return v["content"].get<std::string>();
  throw ConfigError(path + ": '" + key + "' must be a string or an object with a 'content' string");
}

bool Flag(const json& config, const char* key, bool fallback, const std::string& path) {
  if (!config.contains(key) || config[key].is_null()) return fallback;
  if (!config[key].is_boolean()) throw ConfigError(path + ": '" + key + "' must be true, false or null");
  return config[key].get<bool>();
}

WordPieceOptions ReadOptions(const fs::path& folder) {
  WordPieceOptions o;
  const fs::path path = folder / "tokenizer_config.json";
  if (!fs::is_regular_file(path)) return o;
  std::ifstream in(path);
  json j;
  try {
    j = json::parse(in);
  } catch (const json::exception& e) {
    throw IoError(path.string() + ": not valid JSON (" + e.what() + ")");
  }
  if (!j.is_object()) throw IoError(path.string() + ": not a JSON object");
  const std::string p = path.string();
  if (!Flag(j, "do_basic_tokenize", true, p)) {
    throw ConfigError(p + ": do_basic_tokenize false is not supported (WordPiece over unnormalised text)");
  }
  o.lowercase = Flag(j, "do_lower_case", o.lowercase, p);
  o.strip_accents = Flag(j, "strip_accents", o.lowercase, p);
  o.tokenize_chinese_chars = Flag(j, "tokenize_chinese_chars", o.tokenize_chinese_chars, p);
  o.unk_token = SpecialToken(j, "unk_token", o.unk_token, p);
  o.cls_token = SpecialToken(j, "cls_token", o.cls_token, p);
  o.sep_token = SpecialToken(j, "sep_token", o.sep_token, p);
  o.pad_token = SpecialToken(j, "pad_token", o.pad_token, p);
  o.mask_token = SpecialToken(j, "mask_token", o.mask_token, p);
  return o;
}

std::vector<std::string> ReadVocab(const fs::path& folder) {
  const fs::path path = folder / "vocab.txt";
  if (!fs::is_directory(folder)) {
    throw IoError("wordpiece: '" + folder.string() +
                  "' is not a folder (give a HuggingFace model folder with "
                  "vocab.txt)");
  }
  std::ifstream in(path, std::ios::binary);
  if (!in) throw IoError("wordpiece: cannot read " + path.string());
  std::vector<std::string> vocab;
  for (std::string line; std::getline(in, line);) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    vocab.push_back(line);
  }
  if (vocab.empty()) throw IoError("wordpiece: " + path.string() + " is empty");
  return vocab;
}

}  // namespace

WordPiece::WordPiece(const std::string& folder) : vocab_(ReadVocab(folder)), options_(ReadOptions(folder)) {
  try {
    Init();
  } catch (const ConfigError& e) {
    throw ConfigError(folder + ": " + e.what());
  }
}

WordPiece::WordPiece(std::vector<std::string> vocab, WordPieceOptions options)
    : vocab_(std::move(vocab)), options_(std::move(options)) {
  Init();
}

void WordPiece::Init() {
  ids_.reserve(vocab_.size());
  // A token listed twice keeps its last line's id, as HuggingFace's vocabulary loader does.
  for (size_t i = 0; i < vocab_.size(); ++i) ids_[vocab_[i]] = static_cast<int64_t>(i);
  auto require = [&](const std::string& token, const char* role) {
    const int64_t id = TokenToId(token);
    if (id < 0) throw ConfigError(std::string("the vocabulary has no ") + role + " token '" + token + "'");
    return id;
  };
  unk_id_ = require(options_.unk_token, "unknown");
  cls_id_ = require(options_.cls_token, "classification");
  sep_id_ = require(options_.sep_token, "separator");
  pad_id_ = require(options_.pad_token, "padding");
  mask_id_ = TokenToId(options_.mask_token);
  for (const auto* t :
       {&options_.unk_token, &options_.cls_token, &options_.sep_token, &options_.pad_token, &options_.mask_token}) {
    if (TokenToId(*t) >= 0 && !t->empty()) specials_.push_back(*t);
  }
  std::sort(specials_.begin(), specials_.end(),
            [](const std::string& a, const std::string& b) { return a.size() > b.size(); });
  if (options_.max_input_chars_per_word < 1) throw ConfigError("max_input_chars_per_word must be at least 1");
}

int64_t WordPiece::TokenToId(const std::string& token) const {
  const auto it = ids_.find(token);
  return it == ids_.end() ? -1 : it->second;
}

const std::string& WordPiece::IdToToken(int64_t id) const {
  if (id < 0 || id >= size()) {
    throw DataError("token id " + std::to_string(id) + " outside the vocabulary [0, " + std::to_string(size()) + ")");
  }
  return vocab_[static_cast<size_t>(id)];
}

std::vector<std::string> WordPiece::BasicTokenize(const std::string& text) const {
  std::vector<int32_t> cps;
  for (int32_t cp : ToCodePoints(text)) {
    if (cp == 0 || cp == kReplacement || IsControl(cp)) continue;
    if (IsWhitespace(cp)) {
      cps.push_back(' ');
    } else if (options_.tokenize_chinese_chars && IsChinese(cp)) {
      cps.insert(cps.end(), {' ', cp, ' '});
    } else {
      cps.push_back(cp);
    }
  }
  if (options_.strip_accents) cps = StripAccents(cps);
  if (options_.lowercase) Lowercase(cps);

  std::vector<std::string> words;
  size_t start = 0;
  auto flush = [&](size_t end) {
    if (end > start) words.push_back(ToUtf8(cps, start, end));
  };
  for (size_t i = 0; i < cps.size(); ++i) {
    if (IsWhitespace(cps[i])) {
      flush(i);
      start = i + 1;
    } else if (IsPunctuation(cps[i])) {
      flush(i);
      words.push_back(ToUtf8(cps, i, i + 1));
      start = i + 1;
    }
  }
  flush(cps.size());
  return words;
}

void WordPiece::WordToPieces(const std::vector<int32_t>& word, std::vector<std::string>& out) const {
  if (static_cast<int64_t>(word.size()) > options_.max_input_chars_per_word) {
    out.push_back(options_.unk_token);
    return;
  }
  std::vector<std::string> pieces;
  for (size_t start = 0; start < word.size();) {
    size_t end = word.size();
    std::string match;
    for (; end > start; --end) {
      const std::string candidate = (start > 0 ? "##" : "") + ToUtf8(word, start, end);
      if (ids_.count(candidate) != 0) {
        match = candidate;
        break;
      }
    }
    if (match.empty()) {  // some part of the word is in no piece: the whole word is unknown
      out.push_back(options_.unk_token);
      return;
    }
    pieces.push_back(std::move(match));
    start = end;
  }
  out.insert(out.end(), pieces.begin(), pieces.end());
}

std::vector<std::string> WordPiece::Tokenize(const std::string& text) const {
  std::vector<std::string> out;
  auto tokenize_span = [&](size_t begin, size_t end) {
    for (const auto& word : BasicTokenize(text.substr(begin, end - begin))) WordToPieces(ToCodePoints(word), out);
  };
  // Special tokens first, leftmost match (longest at a position), as written: the text around them is tokenised
  // on its own.
  size_t done = 0, pos = 0;
  while (pos < text.size()) {
    const std::string* hit = nullptr;
    for (const auto& special : specials_) {
      if (text.compare(pos, special.size(), special) == 0) {
        hit = &special;
        break;
      }
    }
    if (hit == nullptr) {
      ++pos;
      continue;
    }
    tokenize_span(done, pos);
    out.push_back(*hit);
    pos += hit->size();
    done = pos;
  }
  tokenize_span(done, text.size());
  return out;
}

std::vector<int64_t> WordPiece::Encode(const std::string& text) const {
  std::vector<int64_t> ids;
  for (const auto& t : Tokenize(text)) ids.push_back(TokenToId(t));
  return ids;
}

std::string WordPiece::Decode(const std::vector<int64_t>& ids) const {
  std::string out;
  for (int64_t id : ids) {
    const std::string& token = IdToToken(id);
    if (id == cls_id_ || id == sep_id_ || id == pad_id_ || id == mask_id_) continue;
    if (token.rfind("##", 0) == 0 && !out.empty()) {
      out += token.substr(2);
    } else {
      if (!out.empty()) out += ' ';
      out += token;
    }
  }
  return out;
}

}  // namespace fas

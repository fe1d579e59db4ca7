#include "fas/data/manifest.h"

#include <fcntl.h>
#include <spdlog/spdlog.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <unordered_set>

#include "fas/core/error.h"

namespace fs = std::filesystem;

namespace fas {
namespace {

// A bad line, carrying the problem without the "manifest:line" prefix, which the caller adds.
struct BadLine {
  std::string id;
  std::string reason;
};

// Position of the first byte that is not well-formed UTF-8 (overlongs, surrogates and > U+10FFFF included), or -1.
int64_t FirstInvalidUtf8(const std::string& s) {
  const auto* p = reinterpret_cast<const unsigned char*>(s.data());
  const size_t n = s.size();
  size_t i = 0;
  while (i < n) {
    const unsigned char c = p[i];
    if (c < 0x80) {
      ++i;
      continue;
    }
    size_t len = 0;
    unsigned char lo = 0x80;
    unsigned char hi = 0xBF;
    if (c >= 0xC2 && c <= 0xDF) {
      len = 2;
    } else if (c >= 0xE0 && c <= 0xEF) {
      len = 3;
      if (c == 0xE0) lo = 0xA0;
      if (c == 0xED) hi = 0x9F;
    } else if (c >= 0xF0 && c <= 0xF4) {
      len = 4;
      if (c == 0xF0) lo = 0x90;
      if (c == 0xF4) hi = 0x8F;
    } else {
      return static_cast<int64_t>(i);
    }
    if (i + len > n) return static_cast<int64_t>(i);
    if (p[i + 1] < lo || p[i + 1] > hi) return static_cast<int64_t>(i);
    for (size_t k = 2; k < len; ++k) {
      if (p[i + k] < 0x80 || p[i + k] > 0xBF) return static_cast<int64_t>(i);
    }
    i += len;
  }
  return -1;
}

const char* TypeName(const nlohmann::json& v) { return v.type_name(); }

// Reads an optional string field; null counts as absent.
void StringField(const nlohmann::json& j, const char* key, std::string& out) {
  const auto it = j.find(key);
  if (it == j.end() || it->is_null()) return;
  if (!it->is_string()) {
    throw BadLine{"", std::string("field '") + key + "' must be a string, got " + TypeName(*it)};
  }
  out = it->get<std::string>();
}

bool NumberField(const nlohmann::json& j, const char* key, double& out) {
  const auto it = j.find(key);
  if (it == j.end() || it->is_null()) return false;
  if (!it->is_number()) {
    throw BadLine{"", std::string("field '") + key + "' must be a number of seconds, got " + TypeName(*it)};
  }
  out = it->get<double>();
  if (!std::isfinite(out)) throw BadLine{"", std::string("field '") + key + "' is not finite"};
  return true;
}

const std::unordered_set<std::string>& KnownFields() {
  static const std::unordered_set<std::string> known = {
      "id",    "audio",      "offset",  "duration", "text",   "asr_text", "label",
      "text_label", "speaker", "language", "corpus",   "split", "conflict"};
  return known;
}

Utterance ParseLine(const std::string& line, const std::string& dir, const ManifestReadOptions& options) {
  if (const int64_t bad = FirstInvalidUtf8(line); bad >= 0) {
    throw BadLine{"", "text is not valid UTF-8 (byte " + std::to_string(bad + 1) + " of the line)"};
  }
  nlohmann::json j;
  try {
    j = nlohmann::json::parse(line);
  } catch (const nlohmann::json::parse_error& e) {
    throw BadLine{"", std::string("not valid JSON (") + e.what() + ")"};
  }
  if (!j.is_object()) throw BadLine{"", std::string("must be a JSON object, got ") + TypeName(j)};
  Utterance u;
  const auto id = j.find("id");
  if (id == j.end() || id->is_null()) throw BadLine{"", "missing required field 'id'"};
  if (!id->is_string() || id->get<std::string>().empty()) {
    throw BadLine{"", "field 'id' must be a non-empty string"};
  }
  u.id = id->get<std::string>();
  try {
    const auto audio = j.find("audio");
    if (audio == j.end() || audio->is_null()) throw BadLine{"", "missing required field 'audio'"};
    if (!audio->is_string() || audio->get<std::string>().empty()) {
      throw BadLine{"", "field 'audio' must be a non-empty string (a path)"};
    }
    u.audio = audio->get<std::string>();
    StringField(j, "text", u.text);
    StringField(j, "asr_text", u.asr_text);
    StringField(j, "label", u.label);
    StringField(j, "text_label", u.text_label);
    StringField(j, "speaker", u.speaker);
    StringField(j, "language", u.language);
    StringField(j, "corpus", u.corpus);
    StringField(j, "split", u.split);
    if (NumberField(j, "offset", u.offset) && u.offset < 0) {
      throw BadLine{"", "offset " + std::to_string(u.offset) + " is negative"};
    }
    if (NumberField(j, "duration", u.duration)) {
      if (u.duration <= 0) throw BadLine{"", "duration " + std::to_string(u.duration) + " is not positive"};
      if (u.duration > options.max_duration) {
        throw BadLine{"", "duration " + std::to_string(u.duration) + " s exceeds the limit of " +
                              std::to_string(options.max_duration) + " s"};
      }
    }
    if (const auto c = j.find("conflict"); c != j.end() && !c->is_null()) {
      if (!c->is_boolean()) throw BadLine{"", std::string("field 'conflict' must be true or false, got ") + TypeName(*c)};
      u.conflict = c->get<bool>();
    }
    if (options.require_label && u.label.empty()) throw BadLine{"", "missing field 'label'"};
    if (!options.known_labels.empty()) {
      for (const auto* field : {&u.label, &u.text_label}) {
        if (!field->empty() &&
            std::find(options.known_labels.begin(), options.known_labels.end(), *field) == options.known_labels.end()) {
          throw BadLine{"", std::string("unknown ") + (field == &u.label ? "label" : "text_label") + " '" + *field +
                                "'"};
        }
      }
    }
    for (auto it = j.begin(); it != j.end(); ++it) {
      if (KnownFields().count(it.key()) == 0) u.extra[it.key()] = it.value();
    }
    const fs::path audio_path(u.audio);
    u.audio_path = audio_path.is_absolute() ? u.audio : (fs::path(dir) / audio_path).lexically_normal().string();
    if (options.check_audio_exists) {
      struct stat st {};
      if (::stat(u.audio_path.c_str(), &st) != 0) {
        throw BadLine{"", "audio file not found: " + u.audio_path};
      }
      if (!S_ISREG(st.st_mode)) throw BadLine{"", "audio path is not a regular file: " + u.audio_path};
      if (st.st_size == 0) throw BadLine{"", "audio file is empty (0 bytes): " + u.audio_path};
    }
  } catch (BadLine& bad) {
    bad.id = u.id;
    throw;
  }
  return u;
}

// Writes `content` to `path` through a temporary file, fsync and rename.
void WriteAtomically(const std::string& path, const std::string& content) {
  std::error_code ec;
  const fs::path parent = fs::path(path).parent_path();
  if (!parent.empty()) fs::create_directories(parent, ec);
  const std::string tmp = path + ".tmp." + std::to_string(getpid());
  const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  if (fd < 0) throw IoError(path + ": cannot create " + tmp + ": " + std::strerror(errno));
  size_t done = 0;
  while (done < content.size()) {
    const ssize_t n = ::write(fd, content.data() + done, content.size() - done);
    if (n < 0) {
      if (errno == EINTR) continue;
      const std::string err = std::strerror(errno);
      ::close(fd);
      ::unlink(tmp.c_str());
      throw IoError(path + ": write failed: " + err);
    }
    done += static_cast<size_t>(n);
  }
  if (::fsync(fd) != 0 || ::close(fd) != 0) {
    const std::string err = std::strerror(errno);
    ::unlink(tmp.c_str());
    throw IoError(path + ": write failed: " + err);
  }
  fs::rename(tmp, path, ec);
  if (ec) {
    ::unlink(tmp.c_str());
    throw IoError(path + ": cannot rename " + tmp + " into place: " + ec.message());
  }
}

nlohmann::ordered_json ToOrderedJson(const Utterance& u) {
  nlohmann::ordered_json j;
  j["id"] = u.id;
  j["audio"] = u.audio;
  if (u.offset != 0.0) j["offset"] = u.offset;
  if (u.duration >= 0.0) j["duration"] = u.duration;
  const std::pair<const char*, const std::string*> strings[] = {
      {"text", &u.text},     {"asr_text", &u.asr_text}, {"label", &u.label},   {"text_label", &u.text_label},
      {"speaker", &u.speaker}, {"language", &u.language}, {"corpus", &u.corpus}, {"split", &u.split}};
  for (const auto& [key, value] : strings) {
    if (!value->empty()) j[key] = *value;
  }
  if (u.conflict.has_value()) j["conflict"] = *u.conflict;
  if (u.extra.is_object()) {
    for (auto it = u.extra.begin(); it != u.extra.end(); ++it) {
      if (KnownFields().count(it.key()) == 0) j[it.key()] = it.value();
    }
  }
  return j;
}

}  // namespace

Manifest ReadManifest(const std::string& path, const ManifestReadOptions& options) {
  std::error_code ec;
  if (!fs::exists(path, ec)) throw IoError(path + ": manifest not found");
  if (fs::is_directory(path, ec)) throw IoError(path + ": is a folder, not a manifest (a .jsonl file)");
  std::ifstream in(path, std::ios::binary);
  if (!in) throw IoError(path + ": cannot open manifest: " + std::strerror(errno));
  Manifest m;
  m.path = path;
  const fs::path parent = fs::path(path).parent_path();
  m.dir = parent.empty() ? "." : parent.string();

  std::unordered_set<std::string> ids;
  std::string line;
  int number = 0;
  while (std::getline(in, line)) {
    ++number;
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (line.find_first_not_of(" \t") == std::string::npos) continue;
    try {
      Utterance u = ParseLine(line, m.dir, options);
      if (!ids.insert(u.id).second) throw BadLine{u.id, "duplicate id '" + u.id + "'"};
      u.line = number;
      m.utterances.push_back(std::move(u));
    } catch (const BadLine& bad) {
      if (!options.skip_bad) {
        throw DataError(path + ":" + std::to_string(number) + ": " + (bad.id.empty() ? "" : "'" + bad.id + "': ") +
                        bad.reason + " (--skip-bad skips such lines and lists them)");
      }
      m.skipped.push_back(SkippedLine{number, bad.id, bad.reason, path});
    }
  }
  if (in.bad()) throw IoError(path + ": read error after line " + std::to_string(number));
  if (!m.skipped.empty()) {
    const auto& first = m.skipped.front();
    spdlog::warn("{}: skipped {} bad line(s) of {}; first: line {}: {}", path, m.skipped.size(),
                 m.skipped.size() + m.utterances.size(), first.line, first.reason);
  }
  if (m.utterances.empty() && !options.allow_empty) {
    throw DataError(path + ": manifest holds no usable utterances" +
                    (m.skipped.empty() ? std::string() : " (all " + std::to_string(m.skipped.size()) +
                                                             " lines were bad; first: line " +
                                                             std::to_string(m.skipped.front().line) + ": " +
                                                             m.skipped.front().reason + ")"));
  }
  return m;
}

nlohmann::json ToJson(const Utterance& u) { return nlohmann::json::parse(ToOrderedJson(u).dump()); }

void WriteManifest(const std::string& path, const std::vector<Utterance>& utterances) {
  std::string out;
  std::unordered_set<std::string> ids;
  for (const auto& u : utterances) {
    if (u.id.empty() || u.audio.empty()) {
      throw DataError(path + ": cannot write an utterance without id or audio (id '" + u.id + "')");
    }
    if (!ids.insert(u.id).second) throw DataError(path + ": duplicate utterance id '" + u.id + "'");
    try {
      out += ToOrderedJson(u).dump();
    } catch (const nlohmann::json::type_error& e) {
      throw DataError(path + ": utterance '" + u.id + "' cannot be written as JSON: " + e.what());
    }
    out += '\n';
  }
  WriteAtomically(path, out);
}

int WriteSkipList(const std::string& path, const std::vector<SkippedLine>& skipped) {
  std::string out;
  for (const auto& s : skipped) {
    nlohmann::ordered_json j;
    if (!s.manifest.empty()) j["manifest"] = s.manifest;
    j["line"] = s.line;
    if (!s.id.empty()) j["id"] = s.id;
    j["reason"] = s.reason;
    out += j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) + "\n";
  }
  WriteAtomically(path, out);
  return static_cast<int>(skipped.size());
}

}  // namespace fas

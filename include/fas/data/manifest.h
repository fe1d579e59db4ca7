// Manifests: JSON Lines, one utterance a line (docs/design.md, "Files"). Paths are relative to the manifest's
// folder. Every line is validated; a bad line is an error naming the manifest and the line number, or, with
// skip_bad, a counted and listed skip.
#pragma once

#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

namespace fas {

struct Utterance {
  std::string id;
  std::string audio;       // as written in the manifest (relative to its folder, or absolute)
  std::string audio_path;  // resolved path, filled by ReadManifest
  double offset = 0.0;     // seconds
  double duration = -1.0;  // seconds; negative = whole file
  std::string text, asr_text, label, text_label, speaker, language, corpus, split;
  std::optional<bool> conflict;
  nlohmann::json extra = nlohmann::json::object();  // any other field, kept verbatim (e.g. original_label)
  int line = 0;                                     // 1-based line in the manifest it came from
};

struct SkippedLine {
  int line = 0;
  std::string id;  // when known
  std::string reason;
  std::string manifest;  // the manifest it came from
};

struct ManifestReadOptions {
  bool skip_bad = false;           // bad lines become SkippedLine entries instead of an error
  bool check_audio_exists = true;  // a missing audio file is a bad line
  bool require_label = false;      // a line without `label` is a bad line
  double max_duration = 3600;      // longer utterances are bad lines (resource limit)
  std::vector<std::string> known_labels;  // when set, a `label`/`text_label` outside it is a bad line
  bool allow_empty = false;               // otherwise a manifest with no usable line is an error
};

struct Manifest {
  std::string path;
  std::string dir;  // folder that relative audio paths are resolved against
  std::vector<Utterance> utterances;
  std::vector<SkippedLine> skipped;
};

// Blank lines are ignored; a repeated id is a bad line. Every error reads `manifest:line: 'id': problem`. With
// skip_bad the skips are logged (count and first reason) and returned in Manifest::skipped.
Manifest ReadManifest(const std::string& path, const ManifestReadOptions& options = {});

// Writes atomically (temporary file, fsync, rename). `audio` is written as stored in each Utterance.
void WriteManifest(const std::string& path, const std::vector<Utterance>& utterances);

// Writes the skip list beside a run (`skipped.jsonl`), one JSON object a skip; returns the number written.
int WriteSkipList(const std::string& path, const std::vector<SkippedLine>& skipped);

nlohmann::json ToJson(const Utterance& u);

}  // namespace fas

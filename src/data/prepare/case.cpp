// CASE (the paper's conflict set: 378 TTS utterances whose voice contradicts the words; not public at the time
// of writing). Assumed layout: the audio files plus one metadata table beside them, CSV, JSON lines or a JSON
// array, with one row an utterance and columns (first alias found wins, case-insensitive):
//   audio      audio | wav | file | filename | file_name | path | audio_path | wav_path   (required)
//   label      audio_emotion | vocal_emotion | speech_emotion | acoustic_emotion | voice_emotion | label | emotion
//              (required: the voice's emotion)
//   text_label text_emotion | semantic_emotion | text_label | content_emotion
//   id, text (text | transcript | transcription | sentence | content), speaker (speaker | speaker_id | voice |
//   spk), language (language | lang)
// Audio paths are resolved against the table's folder, then by file name anywhere below the root.
#include <fstream>
#include <map>
#include <sstream>

#include <nlohmann/json.hpp>

#include "common.h"
#include "fas/core/error.h"

namespace fas::prepare {

namespace {

const char* kCorpus = "case";
using Row = std::map<std::string, std::string>;  // lower-cased column -> cell

const std::vector<std::string> kAudio = {"audio", "wav", "file", "filename", "file_name", "path", "audio_path", "wav_path"};
const std::vector<std::string> kLabel = {"audio_emotion", "vocal_emotion",  "speech_emotion", "acoustic_emotion",
                                         "voice_emotion", "label",          "emotion"};
const std::vector<std::string> kTextLabel = {"text_emotion", "semantic_emotion", "text_label", "content_emotion"};
const std::vector<std::string> kId = {"id", "utt_id", "utterance_id", "name", "key"};
const std::vector<std::string> kText = {"text", "transcript", "transcription", "sentence", "content"};
const std::vector<std::string> kSpeaker = {"speaker", "speaker_id", "voice", "spk"};
const std::vector<std::string> kLanguage = {"language", "lang"};

std::string Cell(const Row& row, const std::vector<std::string>& aliases) {
  for (const auto& a : aliases) {
    const auto it = row.find(a);
    if (it != row.end() && !Trim(it->second).empty()) return Trim(it->second);
  }
  return "";
}

bool HasColumn(const std::vector<Row>& rows, const std::vector<std::string>& aliases) {
  if (rows.empty()) return false;
  for (const auto& a : aliases) {
    if (rows.front().count(a)) return true;
  }
  return false;
}

std::string JsonCell(const nlohmann::json& v) { return v.is_string() ? v.get<std::string>() : v.dump(); }

Row JsonRow(const nlohmann::json& obj) {
  Row row;
  for (auto it = obj.begin(); it != obj.end(); ++it) {
    if (!it.value().is_null()) row[Lower(it.key())] = JsonCell(it.value());
  }
  return row;
}

// Rows of a metadata table; empty when the file is not a table of objects.
std::vector<Row> ReadTable(const fs::path& path) {
  std::vector<Row> rows;
  const std::string ext = Lower(path.extension().string());
  if (ext == ".csv") {
    const CsvTable csv = ReadCsv(path, "CP1252");
    for (const auto& r : csv.rows) {
      Row row;
      for (size_t i = 0; i < csv.header.size() && i < r.size(); ++i) row[Lower(csv.header[i])] = r[i];
      rows.push_back(std::move(row));
    }
  } else if (ext == ".jsonl") {
    std::istringstream in(ReadText(path, "CP1252"));
    for (std::string line; std::getline(in, line);) {
      if (Trim(line).empty()) continue;
      const auto j = nlohmann::json::parse(line, nullptr, false);
      if (!j.is_object()) return {};
      rows.push_back(JsonRow(j));
    }
  } else if (ext == ".json") {
    const auto j = nlohmann::json::parse(ReadText(path, "CP1252"), nullptr, false);
    if (!j.is_array()) return {};
    for (const auto& o : j) {
      if (!o.is_object()) return {};
      rows.push_back(JsonRow(o));
    }
  }
  return rows;
}

}  // namespace

ScanResult ScanCase(const fs::path& root) {
  const Tree tree = WalkTree(root);
  fs::path table_path;
  std::vector<Row> rows;
  for (const auto& f : tree.files) {
    const std::string ext = Lower(f.extension().string());
    if (ext != ".csv" && ext != ".jsonl" && ext != ".json") continue;
    auto candidate = ReadTable(f);
    if (HasColumn(candidate, kAudio) && HasColumn(candidate, kLabel)) {
      table_path = f;
      rows = std::move(candidate);
      break;
    }
  }
  if (rows.empty()) {
    ThrowMissing(kCorpus, root,
                 "no metadata table (.csv, .jsonl or .json) with an audio column (audio, wav, file, ...) and a "
                 "vocal-emotion column (audio_emotion, vocal_emotion, label, emotion, ...)");
  }
  std::map<std::string, fs::path> audio;
  for (const auto& f : tree.files) {
    if (IsAudioExtension(f.extension().string())) audio.emplace(f.filename().string(), f);
  }
  ScanResult result;
  result.default_split = "test";
  if (!HasColumn(rows, kTextLabel)) {
    result.warnings.push_back("case: " + table_path.string() + " has no text-emotion column; `text_label` left empty");
  }
  for (size_t i = 0; i < rows.size(); ++i) {
    const Row& row = rows[i];
    const std::string where = table_path.string() + " row " + std::to_string(i + 1);
    const std::string file = Cell(row, kAudio), label = Cell(row, kLabel);
    if (file.empty() || label.empty()) throw DataError(where + ": empty audio or vocal-emotion cell");
    std::error_code ec;
    fs::path wav = table_path.parent_path() / file;
    if (!fs::is_regular_file(wav, ec)) {
      const auto a = audio.find(fs::path(file).filename().string());
      if (a == audio.end()) {
        result.Skip("audio file missing", file);
        continue;
      }
      wav = a->second;
    }
    RawUtterance r;
    const std::string id = Cell(row, kId);
    r.u.id = std::string("case:") + (id.empty() ? wav.stem().string() : id);
    r.u.audio = wav.string();
    r.u.text = Cell(row, kText);
    r.u.speaker = Cell(row, kSpeaker);
    r.u.language = Cell(row, kLanguage);
    r.label = Lower(label);
    r.text_label = Lower(Cell(row, kTextLabel));
    result.items.push_back(std::move(r));
  }
  if (result.items.empty()) ThrowMissing(kCorpus, root, "no audio file of " + table_path.string());
  return result;
}

}  // namespace fas::prepare

// RUN/run.json: what a run is, written once by the training engine when the run starts, so that the tables (and
// anything else that sorts runs) read one small file instead of re-parsing the run's config.yaml.
//
//   {"format": 1, "fas": "0.9.0", "task": "ser", "name": "fas@k_aco4", "seed": 42,
//    "model": {"head": "fas", "acoustic": "wav2vec2", "semantic": "text", "fusion": {"k_aco": 4, "k_sem": 16}},
//    "labels": ["neutral", "happy"]}
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace fas {

struct RunInfo {
  static constexpr int kFormat = 1;  // the newest format this build reads and writes

  int format = kFormat;
  std::string fas_version;  // the fas that wrote it
  std::string task;         // ser | asr
  std::string name;         // the run's name (config `name`): a model, or MODEL@CELL for a sweep cell
  uint64_t seed = 0;
  std::string head;                      // model.head
  std::string acoustic;                  // the acoustic encoder's type; "" when the model has none
  std::string semantic;                  // text | whisper; "" when the model has none
  std::map<std::string, double> fusion;  // every numeric key of model.fusion
  std::vector<std::string> labels;       // the label set, in the classifier's order
};

// Writes `info` to `path` (normally RUN/run.json) atomically: a reader sees the old file or the new one.
void WriteRunInfo(const std::string& path, const RunInfo& info);

// RUN/run.json; nullopt when the run has none (a run written before run.json existed). A malformed file is a
// DataError naming the file and the field; a format newer than RunInfo::kFormat is refused.
std::optional<RunInfo> ReadRunInfo(const std::string& run_dir);

// The same facts from a run's resolved config.yaml, for runs older than run.json. `labels` stays empty: the
// config names a label file, not the labels.
RunInfo RunInfoFromConfigYaml(const std::string& config_yaml);

// ReadRunInfo, else RunInfoFromConfigYaml of RUN/config.yaml; nullopt when the run has neither.
std::optional<RunInfo> LoadRunInfo(const std::string& run_dir);

}  // namespace fas

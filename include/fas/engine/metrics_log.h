// metrics.jsonl of a run: one JSON object a line (a logged training step, an evaluation), flushed at once so
// that `tail -f` and a killed run both see every line written so far.
#pragma once

#include <cstdint>
#include <fstream>
#include <string>

#include <nlohmann/json.hpp>

namespace fas {

class MetricsLog {
 public:
  // Appends to `path` (created if missing).
  explicit MetricsLog(std::string path);
  void Write(const nlohmann::json& record);
  const std::string& path() const { return path_; }

  // On --resume: drops the lines whose "step" is beyond the checkpoint's (written after it by the stopped run,
  // and about to be written again), so the log reads as one uninterrupted run. Rewrites the file atomically.
  static void TruncateAfterStep(const std::string& path, int64_t step);

 private:
  std::string path_;
  std::ofstream out_;
};

}  // namespace fas

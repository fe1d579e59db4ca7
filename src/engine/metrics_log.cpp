#include "fas/engine/metrics_log.h"

#include <sstream>

#include "fas/core/error.h"
#include "fas/io/safetensors.h"

namespace fas {

MetricsLog::MetricsLog(std::string path) : path_(std::move(path)), out_(path_, std::ios::app) {
  if (!out_) throw IoError("cannot open '" + path_ + "' for writing");
}

void MetricsLog::Write(const nlohmann::json& record) {
  // Non-finite numbers have no JSON spelling; nlohmann writes them as null, which readers handle.
  out_ << record.dump() << '\n';
  out_.flush();
  if (!out_) throw IoError("cannot write '" + path_ + "'");
}

void MetricsLog::TruncateAfterStep(const std::string& path, int64_t step) {
  std::ifstream in(path);
  if (!in) return;
  std::ostringstream kept;
  std::string line;
  while (std::getline(in, line)) {
    if (line.empty()) continue;
    const nlohmann::json j = nlohmann::json::parse(line, nullptr, /*allow_exceptions=*/false);
    // A torn last line (killed mid-write) is dropped with the rest of what follows the checkpoint.
    if (j.is_discarded()) continue;
    if (j.contains("step") && j["step"].is_number_integer() && j["step"].get<int64_t>() > step) continue;
    kept << line << '\n';
  }
  WriteFileAtomic(path, kept.str());
}

}  // namespace fas

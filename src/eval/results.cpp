#include "fas/eval/results.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <iomanip>
#include <sstream>

#include "fas/core/error.h"
#include "fas/data/labels.h"

namespace fas {

namespace {

// Temporary file beside the target, fsync, rename: a reader never sees a half-written results file.
void WriteAtomically(const std::string& path, const std::string& bytes) {
  const std::string tmp = path + ".tmp." + std::to_string(::getpid());
  const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) throw IoError("cannot write " + tmp + ": " + std::strerror(errno));
  size_t done = 0;
  while (done < bytes.size()) {
    const ssize_t w = ::write(fd, bytes.data() + done, bytes.size() - done);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) {
      const std::string why = std::strerror(errno);
      ::close(fd);
      ::unlink(tmp.c_str());
      throw IoError("cannot write " + tmp + ": " + why);
    }
    done += static_cast<size_t>(w);
  }
  if (::fsync(fd) != 0 || ::close(fd) != 0 || std::rename(tmp.c_str(), path.c_str()) != 0) {
    const std::string why = std::strerror(errno);
    ::unlink(tmp.c_str());
    throw IoError("cannot write " + path + ": " + why);
  }
}

// JSON has no NaN: a non-finite value is written as null.
nlohmann::ordered_json Number(double v) {
  return std::isfinite(v) ? nlohmann::ordered_json(v) : nlohmann::ordered_json(nullptr);
}

}  // namespace

nlohmann::json LabelMapJson(const LabelMapReport& report) {
  return {{"kept", report.kept}, {"mapped", report.mapped}, {"dropped", report.dropped}};
}

nlohmann::json ResultsJson(const EvalMetrics& metrics, const ResultsInfo& info) {
  nlohmann::json j = ToJson(metrics.all);
  nlohmann::json conflict = ToJson(metrics.conflict);
  conflict["semantic_bias_rate"] =
      metrics.semantic_bias_rate.has_value() ? nlohmann::json(*metrics.semantic_bias_rate) : nlohmann::json(nullptr);
  conflict["semantic_bias_n"] = metrics.semantic_bias_n;
  j["conflict"] = conflict;
  j["congruent"] = ToJson(metrics.congruent);
  j["model"] = info.model;
  j["dataset"] = info.dataset;
  j["manifest"] = info.manifest;
  j["run"] = info.run;
  j["seed"] = info.seed;
  j["label_map"] = info.label_map;
  if (info.trainable_parameters >= 0) j["trainable_parameters"] = info.trainable_parameters;
  if (!info.checkpoint.empty()) j["checkpoint"] = info.checkpoint;
  if (!info.selected_by.empty()) j["selected_by"] = info.selected_by;
  if (info.skipped > 0) j["skipped"] = info.skipped;
  if (metrics.unlabelled > 0) j["unlabelled"] = metrics.unlabelled;
  return j;
}

nlohmann::ordered_json PredictionJson(const Prediction& p, const std::vector<std::string>& label_order) {
  if (!p.probs.empty() && p.probs.size() != label_order.size()) {
    throw DataError("prediction '" + p.id + "' has " + std::to_string(p.probs.size()) + " probabilities for " +
                    std::to_string(label_order.size()) + " classes");
  }
  nlohmann::ordered_json probs = nlohmann::ordered_json::object();
  for (size_t i = 0; i < p.probs.size(); ++i) probs[label_order[i]] = Number(p.probs[i]);
  nlohmann::ordered_json j;
  j["id"] = p.id;
  j["label"] = p.label;
  j["pred"] = p.pred;
  j["probs"] = probs;
  if (!p.text_label.empty()) j["text_label"] = p.text_label;
  if (const auto c = p.IsConflict()) j["conflict"] = *c;
  if (p.acoustic_share) j["acoustic_share"] = Number(*p.acoustic_share);
  return j;
}

EvalMetrics WriteEvaluation(const std::string& dir, const std::vector<Prediction>& predictions,
                            const std::vector<std::string>& label_order, const ResultsInfo& info) {
  const EvalMetrics metrics = Evaluate(predictions, label_order);
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) throw IoError("cannot create " + dir + ": " + ec.message());
  std::string lines;
  for (const auto& p : predictions) lines += PredictionJson(p, label_order).dump() + "\n";
  WriteAtomically(dir + "/predictions.jsonl", lines);
  if (metrics.all.n > 0) {
    WriteAtomically(dir + "/results.json", ResultsJson(metrics, info).dump(2) + "\n");
  } else {
    std::filesystem::remove(dir + "/results.json", ec);
  }
  return metrics;
}

std::string FormatConfusion(const ClassificationMetrics& m) {
  size_t w = 5;
  for (const auto& l : m.labels) w = std::max(w, l.size());
  std::ostringstream out;
  out << std::setw(static_cast<int>(w)) << "truth\\pred";
  for (const auto& l : m.labels) out << "  " << std::setw(static_cast<int>(w)) << l;
  out << "\n";
  for (size_t r = 0; r < m.labels.size(); ++r) {
    out << std::setw(static_cast<int>(w)) << m.labels[r];
    for (auto v : m.confusion[r]) out << "  " << std::setw(static_cast<int>(w)) << v;
    out << "\n";
  }
  return out.str();
}

}  // namespace fas

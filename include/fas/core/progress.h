// A progress bar for long loops: redrawn in place on a terminal, periodic plain lines otherwise (logs, CI).
#pragma once

#include <chrono>
#include <cstdint>
#include <mutex>
#include <string>

namespace fas {

class Progress {
 public:
  // `total` 0 means unknown. `unit` names the items ("utt", "step").
  Progress(std::string label, int64_t total, std::string unit = "it");
  ~Progress();
  Progress(const Progress&) = delete;
  Progress& operator=(const Progress&) = delete;

  // Thread-safe; `n` items were completed. `suffix` is shown after the rate (e.g. "loss 1.23").
  void Advance(int64_t n = 1, const std::string& suffix = "");
  void Finish();

  int64_t done() const { return done_; }
  double ElapsedSeconds() const;

 private:
  void Draw(bool final);

  std::string label_, unit_, suffix_;
  int64_t total_, done_ = 0;
  bool tty_, finished_ = false;
  std::chrono::steady_clock::time_point start_, last_draw_;
  std::mutex mu_;
};

}  // namespace fas

#include "fas/core/progress.h"

#include <unistd.h>

#include <cstdio>

#include "fas/core/log.h"

namespace fas {
namespace {
std::string FormatDuration(double s) {
  if (s < 0 || s > 1e7) return "?";
  const int t = static_cast<int>(s + 0.5);
  char buf[32];
  if (t >= 3600)
    std::snprintf(buf, sizeof(buf), "%d:%02d:%02d", t / 3600, (t / 60) % 60, t % 60);
  else
    std::snprintf(buf, sizeof(buf), "%d:%02d", t / 60, t % 60);
  return buf;
}
}  // namespace

Progress::Progress(std::string label, int64_t total, std::string unit)
    : label_(std::move(label)),
      unit_(std::move(unit)),
      total_(total),
      tty_(isatty(STDERR_FILENO) == 1),
      start_(std::chrono::steady_clock::now()),
      last_draw_(start_) {}

Progress::~Progress() { Finish(); }

double Progress::ElapsedSeconds() const {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
}

void Progress::Advance(int64_t n, const std::string& suffix) {
  std::lock_guard<std::mutex> lock(mu_);
  done_ += n;
  if (!suffix.empty()) suffix_ = suffix;
  const auto now = std::chrono::steady_clock::now();
  // A terminal is redrawn ten times a second; a log gets a line every ten seconds.
  const double period = tty_ ? 0.1 : 10.0;
  if (std::chrono::duration<double>(now - last_draw_).count() >= period) {
    last_draw_ = now;
    Draw(false);
  }
}

void Progress::Finish() {
  std::lock_guard<std::mutex> lock(mu_);
  if (finished_) return;
  finished_ = true;
  Draw(true);
}

void Progress::Draw(bool final) {
  const double elapsed = ElapsedSeconds();
  const double rate = elapsed > 0 ? done_ / elapsed : 0.0;
  std::string eta = "?";
  if (total_ > 0 && rate > 0) eta = FormatDuration((total_ - done_) / rate);
  char head[160];
  if (total_ > 0) {
    std::snprintf(head, sizeof(head), "%s %lld/%lld (%3.0f%%)", label_.c_str(), static_cast<long long>(done_),
                  static_cast<long long>(total_), 100.0 * done_ / total_);
  } else {
    std::snprintf(head, sizeof(head), "%s %lld", label_.c_str(), static_cast<long long>(done_));
  }
  char tail[160];
  std::snprintf(tail, sizeof(tail), "%.1f %s/s, %s elapsed%s%s", rate, unit_.c_str(),
                FormatDuration(elapsed).c_str(), final ? "" : (", ETA " + eta).c_str(),
                suffix_.empty() ? "" : (", " + suffix_).c_str());
  if (tty_) {
    std::string bar;
    if (total_ > 0) {
      const int width = 24, filled = static_cast<int>(width * done_ / std::max<int64_t>(total_, 1));
      bar = " [" + std::string(filled, '#') + std::string(width - filled, '.') + "]";
    }
    std::fprintf(stderr, "\r\033[K%s%s %s%s", head, bar.c_str(), tail, final ? "\n" : "");
    std::fflush(stderr);
  } else {
    spdlog::info("{}: {}", head, tail);
  }
}

}  // namespace fas

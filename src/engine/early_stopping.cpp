#include "fas/engine/early_stopping.h"

#include <cmath>

#include "fas/core/error.h"

namespace fas {
namespace {
bool EndsWith(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}
}  // namespace

EarlyStopping::EarlyStopping(std::string metric, int patience, double min_delta)
    : metric_(std::move(metric)), patience_(patience), min_delta_(min_delta) {
  if (patience_ < 0) throw ConfigError("train.early_stopping.patience must be >= 0 (0 = off)");
  if (!(min_delta_ >= 0)) throw ConfigError("train.early_stopping.min_delta must be >= 0");
  // Losses and error rates (word / character error rate of a recogniser) improve downwards.
  higher_is_better_ = true;
  for (const char* lower : {"loss", "wer", "cer"}) {
    if (metric_ == lower || EndsWith(metric_, std::string("_") + lower)) higher_is_better_ = false;
  }
}

bool EarlyStopping::Update(double value, int64_t step) {
  // A non-finite dev metric is never an improvement.
  const bool better = std::isfinite(value) &&
                      (!has_best() || (higher_is_better_ ? value > best_ + min_delta_ : value < best_ - min_delta_));
  if (better) {
    best_ = value;
    best_step_ = step;
    bad_evals_ = 0;
  } else {
    ++bad_evals_;
  }
  return better;
}

void EarlyStopping::Restore(double best, int64_t best_step, int bad_evals) {
  best_ = best;
  best_step_ = best_step;
  bad_evals_ = bad_evals;
}

}  // namespace fas

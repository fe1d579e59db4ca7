// Best-checkpoint selection and early stopping on one named dev metric (marian's --early-stopping with
// patience and epsilon): an evaluation improves on the best when it is better by more than min_delta.
#pragma once

#include <cstdint>
#include <string>

namespace fas {

class EarlyStopping {
 public:
  // Higher is better unless `metric` is a loss or an error rate ("loss", "wer", "cer", or a name ending in
  // "_loss", "_wer", "_cer"). patience 0 = never stop.
  EarlyStopping(std::string metric, int patience, double min_delta);

  // Records an evaluation at `step`; returns true when it is the new best (the caller writes `best`).
  bool Update(double value, int64_t step);
  // Patience used up: `patience` evaluations in a row without an improvement.
  bool ShouldStop() const { return patience_ > 0 && bad_evals_ >= patience_; }

  const std::string& metric() const { return metric_; }
  bool higher_is_better() const { return higher_is_better_; }
  bool has_best() const { return best_step_ >= 0; }
  double best() const { return best_; }
  int64_t best_step() const { return best_step_; }
  int bad_evals() const { return bad_evals_; }

  // For checkpoints: the state that Update changes.
  void Restore(double best, int64_t best_step, int bad_evals);

 private:
  std::string metric_;
  int patience_;
  double min_delta_;
  bool higher_is_better_;
  double best_ = 0;
  int64_t best_step_ = -1;
  int bad_evals_ = 0;
};

}  // namespace fas

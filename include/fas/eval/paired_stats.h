// Paired comparisons of two classifiers scored on the same utterances: McNemar's exact test on the discordant
// pairs, Holm's step-down correction over a family of tests, and a paired bootstrap interval of the difference in
// accuracy and in UA that pools seeds by resampling utterances together with all their per-seed predictions.
#pragma once

#include <cstdint>
#include <vector>

namespace fas {

// Two-sided exact McNemar p-value: under H0 the b + c discordant pairs (b: A right and B wrong, c: the reverse)
// split as Binomial(b + c, 1/2); p = min(1, 2 P(X <= min(b, c))), and 1 when there is no discordant pair.
double McNemarExactP(int64_t b, int64_t c);

// Holm's step-down adjustment of a family of p-values, returned in input order: the i-th smallest is multiplied
// by (m - i + 1), made non-decreasing in that order, and capped at 1. Rejecting where the adjusted p < alpha
// controls the family-wise error rate at alpha.
std::vector<double> HolmAdjust(const std::vector<double>& p);

// SplitMix64 (Steele, Lea, Flood 2014): the bootstrap's generator, chosen because it is a few lines in any
// language, so that a Python reference draws the very same resampling indices.
class SplitMix64 {
 public:
  explicit SplitMix64(uint64_t seed) : state_(seed) {}
  uint64_t Next();
  // An index in [0, n): Next() mod n (the modulo bias, under n / 2^64, is far below any figure printed).
  uint64_t Below(uint64_t n) { return Next() % n; }

 private:
  uint64_t state_;
};

// Utterances scored by models A and B under each of S seeds. The truth is the utterance's; correctness is per seed.
struct PairedSample {
  std::vector<int> truth;  // [utterance]: class index in [0, num_classes)
  int num_classes = 0;
  std::vector<std::vector<uint8_t>> a_right;  // [seed][utterance]: 1 where A predicted the truth
  std::vector<std::vector<uint8_t>> b_right;  // [seed][utterance]: 1 where B did
};

struct Interval {
  double lo = 0, hi = 0;
};

// Percentile bootstrap intervals (fractions) of mean-over-seeds differences A - B.
struct PairedBootstrap {
  Interval acc, ua;
  int resamples = 0;
};

// Resamples utterances with replacement (`resamples` times, indices drawn from SplitMix64(seed) in order, U a
// resample), each drawn utterance carrying its prediction under every seed; a resample's statistic is the mean over
// seeds of ACC(A) - ACC(B) (and of UA, over the classes present in the resample's truth). The interval is the
// (1 - level) / 2 and (1 + level) / 2 percentiles, interpolated linearly as numpy.percentile does.
PairedBootstrap BootstrapDifference(const PairedSample& sample, int resamples, uint64_t seed, double level);

// The q-th percentile (q in [0, 100]) of `values` with linear interpolation between order statistics (numpy's
// default); `values` is sorted in place.
double Percentile(std::vector<double>& values, double q);

// UA (mean recall over the classes present in the truth) of the predictions flagged `right`, over the utterances
// `index` names (each may repeat).
double UnweightedAccuracy(const std::vector<int>& truth, int num_classes, const std::vector<uint8_t>& right,
                          const std::vector<uint64_t>& index);

}  // namespace fas

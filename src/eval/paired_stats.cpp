#include "fas/eval/paired_stats.h"

#include <algorithm>
#include <cmath>
#include <numeric>

namespace fas {

double McNemarExactP(int64_t b, int64_t c) {
  const int64_t n = b + c;
  if (n == 0) return 1.0;
  const int64_t k = std::min(b, c);
  // P(X <= k) for X ~ Binomial(n, 1/2), summed in log space from the largest term (i = k, as k <= n / 2) down, so
  // that large counts neither overflow the binomial coefficients nor underflow 2^-n.
  auto log_term = [n](int64_t i) {
    return std::lgamma(n + 1.0) - std::lgamma(i + 1.0) - std::lgamma(static_cast<double>(n - i) + 1.0) -
           static_cast<double>(n) * std::log(2.0);
  };
  const double top = log_term(k);
  double sum = 0;
  for (int64_t i = k; i >= 0; --i) {
    const double rel = log_term(i) - top;
    if (rel < -745) break;  // the remaining terms are below double precision
    sum += std::exp(rel);
  }
  return std::min(1.0, 2.0 * std::exp(top) * sum);
}

std::vector<double> HolmAdjust(const std::vector<double>& p) {
  const size_t m = p.size();
  std::vector<size_t> order(m);
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) { return p[a] < p[b]; });
  std::vector<double> adjusted(m);
  double running = 0;
  for (size_t i = 0; i < m; ++i) {
    running = std::max(running, std::min(1.0, static_cast<double>(m - i) * p[order[i]]));
    adjusted[order[i]] = running;
  }
  return adjusted;
}

uint64_t SplitMix64::Next() {
  uint64_t z = (state_ += 0x9E3779B97F4A7C15ULL);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
  return z ^ (z >> 31);
}

double Percentile(std::vector<double>& values, double q) {
  if (values.empty()) return std::nan("");
  std::sort(values.begin(), values.end());
  const double pos = q / 100.0 * static_cast<double>(values.size() - 1);
  const size_t lo = static_cast<size_t>(std::floor(pos));
  const size_t hi = std::min(lo + 1, values.size() - 1);
  return values[lo] + (values[hi] - values[lo]) * (pos - static_cast<double>(lo));
}

double UnweightedAccuracy(const std::vector<int>& truth, int num_classes, const std::vector<uint8_t>& right,
                          const std::vector<uint64_t>& index) {
  std::vector<int64_t> support(num_classes, 0), correct(num_classes, 0);
  for (const uint64_t i : index) {
    ++support[truth[i]];
    correct[truth[i]] += right[i];
  }
  double sum = 0;
  int present = 0;
  for (int c = 0; c < num_classes; ++c) {
    if (support[c] == 0) continue;
    sum += static_cast<double>(correct[c]) / static_cast<double>(support[c]);
    ++present;
  }
  return present == 0 ? 0.0 : sum / present;
}

PairedBootstrap BootstrapDifference(const PairedSample& sample, int resamples, uint64_t seed, double level) {
  PairedBootstrap out;
  out.resamples = resamples;
  const uint64_t n = sample.truth.size();
  const size_t seeds = sample.a_right.size();
  if (n == 0 || seeds == 0 || resamples <= 0) return out;
  SplitMix64 rng(seed);
  std::vector<uint64_t> index(n);
  std::vector<double> acc(resamples), ua(resamples);
  for (int r = 0; r < resamples; ++r) {
    for (auto& i : index) i = rng.Below(n);
    double d_acc = 0, d_ua = 0;
    for (size_t s = 0; s < seeds; ++s) {
      int64_t diff = 0;
      for (const uint64_t i : index) diff += sample.a_right[s][i] - sample.b_right[s][i];
      d_acc += static_cast<double>(diff) / static_cast<double>(n);
      d_ua += UnweightedAccuracy(sample.truth, sample.num_classes, sample.a_right[s], index) -
              UnweightedAccuracy(sample.truth, sample.num_classes, sample.b_right[s], index);
    }
    acc[r] = d_acc / static_cast<double>(seeds);
    ua[r] = d_ua / static_cast<double>(seeds);
  }
  const double lo = 50.0 * (1.0 - level), hi = 50.0 * (1.0 + level);
  out.acc = {Percentile(acc, lo), Percentile(acc, hi)};
  out.ua = {Percentile(ua, lo), Percentile(ua, hi)};
  return out;
}

}  // namespace fas

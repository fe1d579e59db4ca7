// Internal: random draws written out by hand, because the standard distributions' algorithms are unspecified
// and may differ between standard libraries; the corpus must be the same bytes from the same seed everywhere.
#pragma once

#include <cmath>
#include <cstdint>
#include <random>
#include <vector>

namespace fas::synth {

inline double Uniform01(std::mt19937_64& rng) { return (rng() >> 11) * (1.0 / 9007199254740992.0); }

inline size_t PickIndex(std::mt19937_64& rng, size_t n) { return static_cast<size_t>(Uniform01(rng) * n) % n; }

inline double Normal(std::mt19937_64& rng) {
  const double u1 = 1.0 - Uniform01(rng), u2 = Uniform01(rng);  // u1 in (0, 1]
  return std::sqrt(-2.0 * std::log(u1)) * std::cos(2.0 * M_PI * u2);
}

template <class T>
void Shuffle(std::vector<T>& v, std::mt19937_64& rng) {
  for (size_t i = v.size(); i > 1; --i) std::swap(v[i - 1], v[PickIndex(rng, i)]);
}

}  // namespace fas::synth

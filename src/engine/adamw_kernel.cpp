#include "adamw_kernel.h"

#include <cmath>

namespace fas {
namespace {

template <class T>
inline void UpdateLoop(T* __restrict p, const T* __restrict g, T* __restrict m, T* __restrict v, int64_t n,
                       const AdamWConstants<T> c) {
  for (int64_t i = 0; i < n; ++i) {
    const T grad = g[i] * c.scale;
    const T mi = m[i] * c.b1 + c.one_minus_b1 * grad;
    const T vi = v[i] * c.b2 + c.one_minus_b2 * grad * grad;
    m[i] = mi;
    v[i] = vi;
    p[i] = p[i] * c.decay + c.neg_step * mi / (std::sqrt(vi) / c.sqrt_bc2 + c.eps);
  }
}

}  // namespace

// On x86-64, compiled for AVX-512, AVX2 and the baseline, picked at load time for the CPU at hand (the build's
// baseline is SSE2: 4 lanes). Other architectures build the one baseline version.
#if defined(__x86_64__)
#define FAS_CPU_CLONES __attribute__((target_clones("avx512f", "avx2", "default")))
#else
#define FAS_CPU_CLONES
#endif

FAS_CPU_CLONES void AdamWUpdateRange(float* p, const float* g, float* m, float* v, int64_t n,
                                     const AdamWConstants<float>& c) {
  UpdateLoop(p, g, m, v, n, c);
}

FAS_CPU_CLONES void AdamWUpdateRange(double* p, const double* g, double* m, double* v, int64_t n,
                                     const AdamWConstants<double>& c) {
  UpdateLoop(p, g, m, v, n, c);
}

}  // namespace fas

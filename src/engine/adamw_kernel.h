// FusedAdamW's per-element update (adamw.cpp), in a file of its own: it is compiled with -fno-math-errno (sqrt
// of a non-negative value needs no errno, and without the check the loop vectorises), which the precompiled
// LibTorch header cannot be used with.
#pragma once

#include <cstdint>

namespace fas {

template <class T>
struct AdamWConstants {
  T scale, decay, b1, b2, one_minus_b1, one_minus_b2, sqrt_bc2, eps, neg_step;
};

// torch::optim::AdamW::step's arithmetic, element by element in its order, with the gradient times `scale`:
// p *= 1 - lr wd; m = m b1 + (1 - b1) g; v = v b2 + (1 - b2) g g; p += -step_size m / (sqrt(v) / sqrt(bc2) + eps).
void AdamWUpdateRange(float* p, const float* g, float* m, float* v, int64_t n, const AdamWConstants<float>& c);
void AdamWUpdateRange(double* p, const double* g, double* m, double* v, int64_t n, const AdamWConstants<double>& c);

}  // namespace fas

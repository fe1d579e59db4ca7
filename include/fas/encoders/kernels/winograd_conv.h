// A 3-tap, stride-2 conv (wav2vec2's layers 1-4: most of the front end's arithmetic) over one time-major utterance,
// with 5 matrix products for every 2 output frames instead of 6: Winograd's minimal filtering F(2, 2) on the even
// taps. With d_j = x[4u + 2j], frames 2u and 2u + 1 take W0 d0 + W2 d1 and W0 d1 + W2 d2; F(2, 2) forms both from
// three products, m1 = W0 (d0 - d1), m2 = (W0 + W2) d1 and m3 = W2 (d2 - d1), as m1 + m2 and m2 + m3. The
// transform's coefficients are +-1, but d0 - d1, W0 + W2 and m2 are each rounded once more than a direct conv's
// terms: harmless in float32 (parity fixtures within 1e-5), not meant for bf16. The odd tap, W1 x[2t + 1], is one
// product over every frame. Layer 1 at 10 s of audio, 2 threads: 133 -> 119 ms; at 1 s 16.0 -> 14.9.
#pragma once

#include <torch/torch.h>

namespace fas::kernels {

// x [T, Cin] contiguous; taps: the weight as [3 * Cin, Cout], rows ordered (tap, channel); even_sum: W0 + W2 as
// [Cin, Cout]; bias [Cout] or undefined; out [T', Cout] (T' = (T - 3) / 2 + 1), written.
void Winograd3x2Rows(const torch::Tensor& x, const torch::Tensor& taps, const torch::Tensor& even_sum,
                     const torch::Tensor& bias, torch::Tensor out);

}  // namespace fas::kernels

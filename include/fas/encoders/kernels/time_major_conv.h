// Route for the conv front end under CPU inference: every layer time-major, [B, T, C] in and out, as matrix
// products. A strided, unpadded conv1d over one utterance x [T, Cin] is ceil(kernel / stride) products without an
// im2col copy: x viewed as rows of `stride` consecutive frames is a matrix whose row t holds the input of taps
// stride*q .. stride*q + stride - 1 of output frame t - q, so each group of `stride` taps is one product of a strided
// view (read in place by BLAS through its leading dimension) with the matching rows of the weight. For wav2vec2's
// front end this runs each layer at the speed of a plain matrix product, with no activation reordered into and out
// of oneDNN's blocked layout (layers 1-6 at 10 s of audio, 2 threads: 237 ms against oneDNN's 251), and the output
// is time-major, as the transformer wants it. 3-tap stride-2 layers take Winograd3x2Rows.
#pragma once

#include <torch/torch.h>

#include <cstdint>

#include "fas/encoders/kernels/derived_cache.h"

namespace fas::kernels {

// out = rows w, plus bias when it is defined (one product either way: addmm copies the bias into out first).
void ProductInto(torch::Tensor& out, const torch::Tensor& bias, const torch::Tensor& rows, const torch::Tensor& w);

// One conv layer's convolution, with the group norm that follows it when given (wav2vec2's first layer).
class TimeMajorConv {
 public:
  static bool Applies(bool fast, const torch::Tensor& waveform);
  // x [B, T, Cin] contiguous -> [B, T', Cout]: conv, then group_norm if it is not null.
  torch::Tensor operator()(const torch::Tensor& x, const torch::nn::Conv1d& conv,
                           const torch::nn::GroupNorm& group_norm);

 private:
  DerivedCache taps_, even_sum_;
};

}  // namespace fas::kernels

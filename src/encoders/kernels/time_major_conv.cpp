#include "fas/encoders/kernels/time_major_conv.h"

#include "fas/encoders/kernels.h"
#include "fas/encoders/kernels/winograd_conv.h"

namespace fas::kernels {
namespace {

int64_t ConvFrames(int64_t samples, int64_t kernel, int64_t stride) { return (samples - kernel) / stride + 1; }

// taps: the weight as [kernel * Cin, Cout], rows ordered (tap, channel).
void StridedConvRows(const torch::Tensor& x, const torch::Tensor& taps, const torch::Tensor& bias, int64_t kernel,
                     int64_t stride, torch::Tensor out) {
  const int64_t c = x.size(1), frames = out.size(0);
  for (int64_t q = 0; q * stride < kernel; ++q) {
    const int64_t width = std::min(stride, kernel - q * stride) * c;
    auto rows = x.as_strided({frames, width}, {stride * c, 1}, x.storage_offset() + q * stride * c);
    auto w = taps.narrow(0, q * stride * c, width);
    if (q > 0) {
      out.addmm_(rows, w);
    } else {
      ProductInto(out, bias, rows, w);
    }
  }
}

// The first layer (one input channel: the waveform) as one product of its patches [T', kernel], copied out (a few
// MB), with a column of ones appended for the bias: no pass of its own over the [T', Cout] output to add the bias.
// Its group norm (one group a channel, statistics over the utterance's frames) is folded in as well: y = P w_c + b_c
// is linear in the patches P, so channel c's mean is mean(P) w_c + b_c and its variance w_c^T cov(P) w_c, from P's
// kernel x kernel covariance (in double) instead of a reduction over the output (torch's var_mean across its rows
// took 55 ms on 10 s of audio); normalising then only rescales the columns of the weight and shifts the bias.
void SingleChannelConv(const torch::Tensor& x, const torch::Tensor& taps, const torch::Tensor& conv_bias,
                       const torch::nn::GroupNorm& group_norm, int64_t kernel, int64_t stride, torch::Tensor out) {
  const int64_t frames = out.size(0);
  auto patches = x.as_strided({frames, kernel}, {stride, 1});
  auto weight = taps.to(torch::kFloat64);
  auto bias = conv_bias.defined() ? conv_bias.to(torch::kFloat64) : torch::zeros({taps.size(1)}, weight.options());
  if (group_norm) {
    auto p = patches.to(torch::kFloat64);
    auto mean = p.mean(0);
    auto centered = p - mean;
    auto covariance = torch::mm(centered.t(), centered) / static_cast<double>(frames);
    auto scale = torch::rsqrt((torch::mm(covariance, weight) * weight).sum(0) + group_norm->options.eps());
    if (group_norm->weight.defined()) scale = scale * group_norm->weight.to(torch::kFloat64);
    weight = weight * scale;
    bias = -torch::mv(weight.t(), mean);  // the conv's own bias cancels against the mean
    if (group_norm->bias.defined()) bias = bias + group_norm->bias.to(torch::kFloat64);
  }
  auto augmented = torch::cat({patches, torch::ones({frames, 1}, x.options())}, 1);
  torch::mm_out(out, augmented, torch::cat({weight, bias.unsqueeze(0)}).to(x.scalar_type()));
}

}  // namespace

void ProductInto(torch::Tensor& out, const torch::Tensor& bias, const torch::Tensor& rows, const torch::Tensor& w) {
  if (bias.defined()) {
    torch::addmm_out(out, bias, rows, w);
  } else {
    torch::mm_out(out, rows, w);
  }
}

bool TimeMajorConv::Applies(bool fast, const torch::Tensor& waveform) { return CpuInference(fast, waveform); }

torch::Tensor TimeMajorConv::operator()(const torch::Tensor& x, const torch::nn::Conv1d& conv,
                                        const torch::nn::GroupNorm& group_norm) {
  TORCH_INTERNAL_ASSERT(x.is_contiguous(), "the time-major conv reads x through strided views");
  const int64_t kernel = (*conv->options.kernel_size())[0], stride = (*conv->options.stride())[0];
  const auto& taps = taps_.Get({conv->weight}, [&] {
    return conv->weight.permute({2, 1, 0}).reshape({-1, conv->weight.size(0)}).contiguous();
  });
  const int64_t b = x.size(0), c = x.size(2);
  TORCH_INTERNAL_ASSERT(!group_norm || c == 1, "the group norm is folded into a one-channel conv only");
  auto y = torch::empty({b, ConvFrames(x.size(1), kernel, stride), taps.size(1)}, x.options());
  for (int64_t i = 0; i < b; ++i) {
    if (c == 1) {
      SingleChannelConv(x[i], taps, conv->bias, group_norm, kernel, stride, y[i]);
    } else if (kernel == 3 && stride == 2) {
      const auto& even_sum =
          even_sum_.Get({conv->weight}, [&] { return taps.narrow(0, 0, c) + taps.narrow(0, 2 * c, c); });
      Winograd3x2Rows(x[i], taps, even_sum, conv->bias, y[i]);
    } else {
      StridedConvRows(x[i], taps, conv->bias, kernel, stride, y[i]);
    }
  }
  return y;
}

}  // namespace fas::kernels

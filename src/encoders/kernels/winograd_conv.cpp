#include "fas/encoders/kernels/winograd_conv.h"

#include "fas/encoders/kernels/time_major_conv.h"

namespace fas::kernels {

void Winograd3x2Rows(const torch::Tensor& x, const torch::Tensor& taps, const torch::Tensor& even_sum,
                     const torch::Tensor& bias, torch::Tensor out) {
  const int64_t c = x.size(1), frames = out.size(0), pairs = frames / 2, out_channels = out.size(1);
  auto rows = [&](int64_t n, int64_t step, int64_t first) {  // x[first], x[first + step], ... as [n, Cin]
    return x.as_strided({n, c}, {step * c, 1}, x.storage_offset() + first * c);
  };
  const auto w0 = taps.narrow(0, 0, c), w1 = taps.narrow(0, c, c), w2 = taps.narrow(0, 2 * c, c);
  ProductInto(out, bias, rows(frames, 2, 1), w1);
  if (pairs > 0) {
    const auto d1 = rows(pairs, 4, 2);
    const auto m2 = torch::mm(d1, even_sum);
    auto even = out.as_strided({pairs, out_channels}, {2 * out_channels, 1}, out.storage_offset());
    auto odd = out.as_strided({pairs, out_channels}, {2 * out_channels, 1}, out.storage_offset() + out_channels);
    even.addmm_(rows(pairs, 4, 0) - d1, w0).add_(m2);
    odd.addmm_(rows(pairs, 4, 4) - d1, w2).add_(m2);
  }
  if (frames % 2 == 1) {  // the last frame has no partner
    auto last = out.narrow(0, frames - 1, 1);
    last.addmm_(rows(1, 1, 2 * frames - 2), w0).addmm_(rows(1, 1, 2 * frames), w2);
  }
}

}  // namespace fas::kernels

#include "fas/encoders/kernels/channels_last_conv.h"

#include <array>

namespace fas::kernels {

torch::Tensor ChannelsLastConv::operator()(const torch::Tensor& x, const torch::Tensor& weight_g,
                                           const torch::Tensor& weight_v, const torch::Tensor& bias, int64_t padding,
                                           int64_t groups) {
  auto fold = [&] {  // [C, C / groups, 1, kernel], channels-last
    return torch::_weight_norm(weight_v, weight_g, 2).unsqueeze(2).contiguous(torch::MemoryFormat::ChannelsLast);
  };
  const auto weight = c10::InferenceMode::is_enabled() ? folded_.Get({weight_v, weight_g}, fold) : fold();
  const std::array<int64_t, 2> one{1, 1}, pad{0, padding};
  auto y = torch::conv2d(x.transpose(1, 2).unsqueeze(2), weight, bias, one, pad, one, groups);
  return y.squeeze(2).transpose(1, 2);
}

}  // namespace fas::kernels

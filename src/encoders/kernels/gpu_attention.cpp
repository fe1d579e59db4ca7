#include "fas/encoders/kernels/gpu_attention.h"

#include <limits>
#include <optional>

namespace fas::kernels {

torch::Tensor GpuAttention::Run(const torch::Tensor& q, const torch::Tensor& k, const torch::Tensor& v,
                                const torch::Tensor& bias, double scale, double dropout) {
  // Under autocast q, k and v arrive in bf16 / fp16 and the masks in float32; the kernel takes a bias of q's dtype
  // (or a boolean mask, true = attend). The lowest float32 overflows there, so a float bias is clamped to the
  // dtype's range first.
  std::optional<torch::Tensor> mask;
  if (bias.defined() && bias.scalar_type() == torch::kBool) {
    mask = bias;
  } else if (bias.defined()) {
    torch::Tensor b = bias;
    if (b.scalar_type() != q.scalar_type()) {
      const double lowest =
          q.scalar_type() == torch::kBFloat16 ? static_cast<double>(std::numeric_limits<c10::BFloat16>::lowest())
          : q.scalar_type() == torch::kHalf   ? static_cast<double>(std::numeric_limits<c10::Half>::lowest())
                                              : std::numeric_limits<double>::lowest();
      b = b.clamp_min(lowest).to(q.scalar_type());
    }
    mask = b;
  }
  const torch::Tensor kv_k = k.scalar_type() == q.scalar_type() ? k : k.to(q.scalar_type());
  const torch::Tensor kv_v = v.scalar_type() == q.scalar_type() ? v : v.to(q.scalar_type());
  return at::scaled_dot_product_attention(q, kv_k, kv_v, mask, dropout, /*is_causal=*/false, scale);
}

}  // namespace fas::kernels

// Patchify and token selection: the two steps of FAS that decide which tokens the queries may look at.
#include <ATen/Parallel.h>

#include <algorithm>
#include <limits>

#include "fas/core/error.h"
#include "fas/fusion/fusion.h"

namespace fas {

namespace {

// Patchify without a gradient, in one pass over x. The general form below materialises x * mask (and a padded
// copy when T is not a multiple of s), each as large as x: 315 MB for benchmark 2's batch of cached features.
// Same sums in the same order, same division.
std::pair<torch::Tensor, torch::Tensor> PatchifyConstant(const torch::Tensor& x, const torch::Tensor& m, int64_t s) {
  const int64_t B = x.size(0), T = x.size(1), D = x.size(2), P = (T + s - 1) / s;
  const torch::Tensor xc = x.contiguous(), mc = m.contiguous();
  torch::Tensor out = torch::empty({B, P, D}, x.options());
  torch::Tensor valid = torch::empty({B, P}, m.options());
  AT_DISPATCH_FLOATING_TYPES(x.scalar_type(), "Patchify", [&] {
    const scalar_t* xp = xc.data_ptr<scalar_t>();
    const bool* mp = mc.data_ptr<bool>();
    scalar_t* op = out.data_ptr<scalar_t>();
    bool* vp = valid.data_ptr<bool>();
    at::parallel_for(0, B * P, 16, [&](int64_t begin, int64_t end) {
      for (int64_t bp = begin; bp < end; ++bp) {
        const int64_t b = bp / P, first = (bp % P) * s, last = std::min(T, first + s);
        scalar_t* o = op + bp * D;
        std::fill(o, o + D, scalar_t(0));
        int64_t count = 0;
        for (int64_t t = first; t < last; ++t) {
          if (!mp[b * T + t]) continue;
          ++count;
          const scalar_t* row = xp + (b * T + t) * D;
          for (int64_t i = 0; i < D; ++i) o[i] += row[i];
        }
        vp[bp] = count > 0;
        const scalar_t n = static_cast<scalar_t>(std::max<int64_t>(count, 1));
        for (int64_t i = 0; i < D; ++i) o[i] /= n;
      }
    });
  });
  return {out, valid};
}

}  // namespace

std::pair<torch::Tensor, torch::Tensor> Patchify(const torch::Tensor& x, const torch::Tensor& mask, int64_t s) {
  const torch::Tensor m = mask.to(torch::kBool);
  if (s <= 1) return {x, m};
  // The one-pass loop sums in x's dtype: float32 / float64 only (autocast's bf16 frames take the general form).
  const bool wide = x.scalar_type() == torch::kFloat || x.scalar_type() == torch::kDouble;
  if (x.device().is_cpu() && wide && !(x.requires_grad() && torch::GradMode::is_enabled())) {
    return PatchifyConstant(x, m, s);
  }
  const int64_t B = x.size(0), T = x.size(1), D = x.size(2);
  const int64_t P = (T + s - 1) / s;
  const int64_t pad = P * s - T;
  torch::Tensor mf = m.to(x.dtype());
  torch::Tensor xm = x * mf.unsqueeze(-1);
  if (pad > 0) {
    xm = torch::constant_pad_nd(xm, {0, 0, 0, pad});
    mf = torch::constant_pad_nd(mf, {0, pad});
  }
  const torch::Tensor sums = xm.view({B, P, s, D}).sum(2);
  const torch::Tensor counts = mf.view({B, P, s}).sum(2);
  return {sums / counts.clamp_min(1).unsqueeze(-1), counts > 0};
}

torch::Tensor GatherRows(const torch::Tensor& x, const torch::Tensor& index) {
  // One index_select over the flattened rows: whole rows copied at once, where gather with an index expanded
  // over D looks up every element.
  const int64_t B = x.size(0), N = x.size(1), k = index.size(1);
  const torch::Tensor rows = index + torch::arange(B, index.options()).unsqueeze(1) * N;
  return x.reshape({B * N, x.size(2)}).index_select(0, rows.reshape({B * k})).view({B, k, x.size(2)});
}

TokenSelection SelectTokens(const torch::Tensor& tokens, const torch::Tensor& mask, const torch::Tensor& scores,
                            int64_t k) {
  if (k < 1) throw ConfigError("token selection needs k >= 1, got " + std::to_string(k));
  const int64_t N = tokens.size(1);
  const torch::Tensor m = mask.to(torch::kBool);
  const int64_t kk = std::min(k, N);
  const torch::Tensor masked_scores =
      scores.detach().to(torch::kFloat).masked_fill(~m, -std::numeric_limits<float>::infinity());
  torch::Tensor index = std::get<1>(masked_scores.topk(kk, /*dim=*/1));
  torch::Tensor valid = m.gather(1, index);
  // Time order for the selected tokens (and empty slots last) makes attention maps readable.
  const torch::Tensor order = torch::where(valid, index, index + N).argsort(/*dim=*/1, /*descending=*/false);
  index = index.gather(1, order);
  valid = valid.gather(1, order);
  torch::Tensor picked = GatherRows(tokens, index) * valid.unsqueeze(-1);
  index = index.masked_fill(~valid, 0);
  if (kk < k) {
    picked = torch::constant_pad_nd(picked, {0, 0, 0, k - kk});
    valid = torch::constant_pad_nd(valid, {0, k - kk});
    index = torch::constant_pad_nd(index, {0, k - kk});
  }
  return {picked, valid, index};
}

TokenSelection TopKByEnergy(const torch::Tensor& tokens, const torch::Tensor& mask, int64_t k) {
  return SelectTokens(tokens, mask, tokens.detach().norm(2, -1), k);
}

torch::Tensor RandomSelectionScores(const torch::Tensor& mask, int64_t k, bool training) {
  const torch::Tensor m = mask.to(torch::kBool);
  if (training) return torch::rand(m.sizes(), torch::TensorOptions().dtype(torch::kFloat).device(m.device()));
  // Rank r of a valid token among the valid ones; keep ranks floor((j + 0.5) n / k), j < k: evenly spaced.
  const torch::Tensor n = m.sum(1, /*keepdim=*/true).to(torch::kFloat);                     // [B, 1]
  const torch::Tensor rank = m.to(torch::kLong).cumsum(1) - 1;                               // [B, N]
  const torch::Tensor j = torch::arange(k, torch::TensorOptions().dtype(torch::kFloat).device(m.device()));
  const torch::Tensor targets = ((j.unsqueeze(0) + 0.5) * n / static_cast<double>(k)).floor().to(torch::kLong);
  const torch::Tensor chosen = (rank.unsqueeze(-1) == targets.unsqueeze(1)).any(-1) & m;     // [B, N]
  return chosen.to(torch::kFloat);
}

}  // namespace fas

#include "fas/engine/adamw.h"

#include <ATen/Parallel.h>
#include <ATen/ops/_fused_adamw.h>

#include <cmath>
#include <optional>
#include <string>
#include <vector>

#include "adamw_kernel.h"
#include "fas/core/error.h"

namespace fas {
namespace {

struct Update {
  double grad_scale, decay, beta1, beta2, sqrt_bias_correction2, eps, step_size;
};

template <class T>
AdamWConstants<T> Constants(const Update& u) {
  return {static_cast<T>(u.grad_scale),
          static_cast<T>(u.decay),
          static_cast<T>(u.beta1),
          static_cast<T>(u.beta2),
          static_cast<T>(1 - u.beta1),
          static_cast<T>(1 - u.beta2),
          static_cast<T>(u.sqrt_bias_correction2),
          static_cast<T>(u.eps),
          static_cast<T>(-u.step_size)};
}

template <class T>
void UpdateElements(T* p, const T* g, T* m, T* v, int64_t n, const Update& u) {
  const AdamWConstants<T> c = Constants<T>(u);
  at::parallel_for(0, n, 1 << 15, [&](int64_t begin, int64_t end) {
    AdamWUpdateRange(p + begin, g + begin, m + begin, v + begin, end - begin, c);
  });
}

void UpdateParameter(torch::Tensor& p, const torch::Tensor& grad, torch::Tensor& exp_avg, torch::Tensor& exp_avg_sq,
                     const Update& u) {
  // The kernel wants contiguous tensors of one dtype; parameters and their state are (the state is created with
  // the parameter's layout), anything else is updated through contiguous copies.
  torch::Tensor pc = p.contiguous(), mc = exp_avg.contiguous(), vc = exp_avg_sq.contiguous();
  const torch::Tensor gc = grad.to(p.scalar_type()).contiguous();
  if (mc.scalar_type() != p.scalar_type() || vc.scalar_type() != p.scalar_type()) {
    throw Error("AdamW state of dtype " + std::string(c10::toString(mc.scalar_type())) + " for a parameter of dtype " +
                c10::toString(p.scalar_type()));
  }
  AT_DISPATCH_FLOATING_TYPES(p.scalar_type(), "AdamW", [&] {
    UpdateElements(pc.data_ptr<scalar_t>(), gc.data_ptr<scalar_t>(), mc.data_ptr<scalar_t>(), vc.data_ptr<scalar_t>(),
                   p.numel(), u);
  });
  if (!pc.is_same(p)) p.copy_(pc);
  if (!mc.is_same(exp_avg)) exp_avg.copy_(mc);
  if (!vc.is_same(exp_avg_sq)) exp_avg_sq.copy_(vc);
}

// The parameters of one group on one GPU that share a dtype and a step count: one launch of ATen's fused kernel.
struct DeviceBatch {
  torch::Device device;
  torch::ScalarType dtype;
  int64_t step;
  std::vector<torch::Tensor> params, grads, exp_avgs, exp_avg_sqs;
};

bool SameLayout(const torch::Tensor& t, const torch::Tensor& p) {
  return t.device() == p.device() && t.scalar_type() == p.scalar_type() && t.sizes() == p.sizes() &&
         t.strides() == p.strides();
}

// ATen's fused kernel wants the parameter, its gradient and its moments alike in device, dtype, sizes and
// strides; a tensor that differs (a gradient of another layout, moments from elsewhere) is copied into the
// parameter's layout.
torch::Tensor Like(const torch::Tensor& t, const torch::Tensor& p) {
  return SameLayout(t, p) ? t : torch::empty_like(p, torch::MemoryFormat::Preserve).copy_(t);
}

void Enqueue(std::vector<DeviceBatch>& batches, torch::Tensor& p, const torch::Tensor& grad,
             torch::optim::AdamWParamState& s) {
  if (!p.is_non_overlapping_and_dense()) {
    throw Error("FusedAdamW: a GPU parameter of shape " + c10::str(p.sizes()) +
                " is a view with gaps; parameters must own dense storage");
  }
  s.exp_avg(Like(s.exp_avg(), p));
  s.exp_avg_sq(Like(s.exp_avg_sq(), p));
  DeviceBatch* batch = nullptr;
  for (auto& b : batches) {
    if (b.device == p.device() && b.dtype == p.scalar_type() && b.step == s.step()) batch = &b;
  }
  if (batch == nullptr) batch = &batches.emplace_back(DeviceBatch{p.device(), p.scalar_type(), s.step(), {}, {}, {}, {}});
  batch->params.push_back(p);
  batch->grads.push_back(Like(grad, p));
  batch->exp_avgs.push_back(s.exp_avg());
  batch->exp_avg_sqs.push_back(s.exp_avg_sq());
}

// ATen's kernel takes the step already counted (a float32 tensor on the device, read not written), applies
// p -= lr wd p, the moments, and the bias corrections of that step as the CPU kernel does; a gradient scale
// reaches it as a divisor (the gradient is divided in place).
void Launch(DeviceBatch& b, const torch::optim::AdamWOptions& o, double grad_scale) {
  const auto on_device = torch::TensorOptions().dtype(torch::kFloat32).device(b.device);
  const torch::Tensor step = torch::full({}, static_cast<double>(b.step), on_device);
  const std::vector<torch::Tensor> steps(b.params.size(), step);
  std::optional<torch::Tensor> divisor;
  if (grad_scale != 1.0) divisor = torch::full({}, 1.0 / grad_scale, on_device);
  const auto [beta1, beta2] = o.betas();
  at::_fused_adamw_(b.params, b.grads, b.exp_avgs, b.exp_avg_sqs, /*max_exp_avg_sqs=*/{}, steps, o.lr(), beta1, beta2,
                    o.weight_decay(), o.eps(), /*amsgrad=*/false, /*maximize=*/false, divisor, std::nullopt);
}

}  // namespace

torch::Tensor FusedAdamW::step(LossClosure closure) {
  torch::NoGradGuard no_grad;
  torch::Tensor loss;
  if (closure != nullptr) {
    at::AutoGradMode enable_grad(true);
    loss = closure();
  }
  for (auto& group : param_groups_) {
    const auto& o = static_cast<const torch::optim::AdamWOptions&>(group.options());
    if (o.amsgrad()) throw ConfigError("FusedAdamW does not implement amsgrad");
    const auto [beta1, beta2] = o.betas();
    std::vector<DeviceBatch> on_gpus;
    for (auto& p : group.params()) {
      if (!p.grad().defined()) continue;
      // The same key, state type and initialisation as torch::optim::AdamW (its save / load use them).
      void* const key = p.unsafeGetTensorImpl();
      auto it = state_.find(key);
      if (it == state_.end()) {
        auto s = std::make_unique<torch::optim::AdamWParamState>();
        s->step(0);
        s->exp_avg(torch::zeros_like(p, torch::MemoryFormat::Preserve));
        s->exp_avg_sq(torch::zeros_like(p, torch::MemoryFormat::Preserve));
        it = state_.emplace(key, std::move(s)).first;
      }
      auto& s = static_cast<torch::optim::AdamWParamState&>(*it->second);
      s.step(s.step() + 1);
      if (p.is_cuda()) {
        Enqueue(on_gpus, p, p.grad(), s);
        continue;
      }
      const double bias_correction1 = 1 - std::pow(beta1, static_cast<double>(s.step()));
      const double bias_correction2 = 1 - std::pow(beta2, static_cast<double>(s.step()));
      const Update u{grad_scale_,
                     o.weight_decay() != 0 ? 1 - o.lr() * o.weight_decay() : 1.0,
                     beta1,
                     beta2,
                     std::sqrt(bias_correction2),
                     o.eps(),
                     o.lr() / bias_correction1};
      UpdateParameter(p, p.grad(), s.exp_avg(), s.exp_avg_sq(), u);
      // The loop writes through raw pointers, which LibTorch cannot see: the version counter is bumped as an
      // in-place op would, or what derives from the parameter (the encoders' packed inference weights) goes stale.
      torch::autograd::impl::bump_version(p);
    }
    for (auto& b : on_gpus) Launch(b, o, grad_scale_);
  }
  return loss;
}

double SquaredNorm(const std::vector<torch::Tensor>& tensors) {
  if (tensors.empty()) return 0;
  std::vector<torch::Tensor> norms;
  norms.reserve(tensors.size());
  for (const auto& t : tensors) norms.push_back(torch::linalg_vector_norm(t));  // one pass, no temporary
  return torch::stack(norms).to(torch::kDouble).square().sum().item<double>();
}

}  // namespace fas

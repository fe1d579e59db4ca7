#include <ATen/ops/_fused_adamw.h>
#include <gtest/gtest.h>
#include <torch/torch.h>

#include "fas/engine/adamw.h"
#include "fas/engine/optimizer_state.h"
#include "support/test_support.h"

namespace {

// Two groups (decayed matrix, undecayed vector), like the trainer's, in double so that the comparison does not
// depend on how a CPU rounds.
struct Params {
  torch::Tensor w = torch::randn({5, 3}, torch::kDouble).requires_grad_(true);
  torch::Tensor b = torch::randn({3}, torch::kDouble).requires_grad_(true);
};

template <class Optimizer>
std::unique_ptr<Optimizer> Make(Params& p) {
  auto decayed = std::make_unique<torch::optim::AdamWOptions>(1e-2);
  decayed->betas({0.9, 0.98}).eps(1e-6).weight_decay(0.1);
  auto plain = std::make_unique<torch::optim::AdamWOptions>(2e-2);
  plain->weight_decay(0.0);
  std::vector<torch::optim::OptimizerParamGroup> groups;
  groups.emplace_back(std::vector<torch::Tensor>{p.w}, std::move(decayed));
  groups.emplace_back(std::vector<torch::Tensor>{p.b}, std::move(plain));
  return std::make_unique<Optimizer>(groups, torch::optim::AdamWOptions(1.0));
}

torch::Tensor State(torch::optim::Optimizer& o, const torch::Tensor& p, bool squares) {
  auto& s = static_cast<torch::optim::AdamWParamState&>(*o.state().at(p.unsafeGetTensorImpl()));
  return squares ? s.exp_avg_sq() : s.exp_avg();
}

TEST(FusedAdamW, StepsAsTorchAdamWWithTheGradientScaled) {
  torch::manual_seed(0);
  Params fused_p, torch_p;
  torch_p.w.detach().copy_(fused_p.w.detach());
  torch_p.b.detach().copy_(fused_p.b.detach());
  auto fused = Make<fas::FusedAdamW>(fused_p);
  auto reference = Make<torch::optim::AdamW>(torch_p);
  for (int step = 0; step < 6; ++step) {
    const double scale = 0.25 + 0.1 * step;
    const auto gw = torch::randn({5, 3}, torch::kDouble), gb = torch::randn({3}, torch::kDouble);
    fused_p.w.mutable_grad() = gw.clone();
    torch_p.w.mutable_grad() = gw * scale;
    // The vector has no gradient at step 2: skipped, its step count stays behind the matrix's.
    fused_p.b.mutable_grad() = step == 2 ? torch::Tensor() : gb.clone();
    torch_p.b.mutable_grad() = step == 2 ? torch::Tensor() : gb * scale;
    fused->set_grad_scale(scale);
    fused->step();
    reference->step();
    for (auto [a, b] : {std::pair{fused_p.w, torch_p.w}, std::pair{fused_p.b, torch_p.b}}) {
      EXPECT_TRUE(torch::allclose(a, b, 1e-12, 1e-14)) << "step " << step << " " << (a - b).abs().max().item<double>();
      for (bool squares : {false, true}) {
        EXPECT_TRUE(torch::allclose(State(*fused, a, squares), State(*reference, b, squares), 1e-12, 1e-14));
      }
    }
  }
  EXPECT_EQ(static_cast<torch::optim::AdamWParamState&>(
                *fused->state().at(fused_p.b.unsafeGetTensorImpl()))
                .step(),
            5);
}

TEST(FusedAdamW, CheckpointsAreInterchangeableWithTorchAdamW) {
  torch::manual_seed(1);
  fas::testing::TempDir dir;
  Params p;
  auto fused = Make<fas::FusedAdamW>(p);
  for (int step = 0; step < 3; ++step) {
    p.w.mutable_grad() = torch::randn({5, 3}, torch::kDouble);
    p.b.mutable_grad() = torch::randn({3}, torch::kDouble);
    fused->step();
  }
  const std::string path = dir.path() + "/optimizer.pt";
  torch::save(*fused, path);
  auto loaded = Make<torch::optim::AdamW>(p);
  torch::load(*loaded, path);
  for (const auto& t : {p.w, p.b}) {
    for (bool squares : {false, true}) EXPECT_TRUE(torch::equal(State(*loaded, t, squares), State(*fused, t, squares)));
  }
  auto back = Make<fas::FusedAdamW>(p);
  torch::save(*loaded, path);
  torch::load(*back, path);
  for (const auto& t : {p.w, p.b}) {
    EXPECT_TRUE(torch::equal(State(*back, t, true), State(*fused, t, true)));
  }
}

// A step is an in-place change to LibTorch: each updated parameter's version advances, as torch::optim::AdamW's do.
// What derives from a parameter (the encoders' packed weights for inference) is rebuilt on that signal; without
// it, evaluation during training ran the first evaluation's weights.
TEST(FusedAdamW, AStepAdvancesTheParametersVersions) {
  Params p;
  auto opt = Make<fas::FusedAdamW>(p);
  (p.w.sum() + p.b.sum()).backward();
  const auto w = p.w._version(), b = p.b._version();
  opt->step();
  EXPECT_GT(p.w._version(), w);
  EXPECT_GT(p.b._version(), b);
}

TEST(FusedAdamW, SquaredNormSumsEveryElement) {
  const auto a = torch::tensor({3.0, 4.0}), b = torch::tensor({{1.0, 2.0}, {2.0, 4.0}});
  EXPECT_DOUBLE_EQ(fas::SquaredNorm({a, b}), 25.0 + 25.0);
  EXPECT_EQ(fas::SquaredNorm({}), 0.0);
}

// A decayed matrix and an undecayed vector in float32, on `device`, with FusedAdamW over them.
struct FloatModel {
  torch::Tensor w, b;
  std::unique_ptr<fas::FusedAdamW> optimizer;
  static constexpr double kLrW = 1e-2, kLrB = 2e-2, kBeta1 = 0.9, kBeta2 = 0.98, kEps = 1e-6, kDecay = 0.1;

  FloatModel(const torch::Tensor& w0, const torch::Tensor& b0, const torch::Device& device)
      : w(w0.to(device).clone().requires_grad_(true)), b(b0.to(device).clone().requires_grad_(true)) {
    auto decayed = std::make_unique<torch::optim::AdamWOptions>(kLrW);
    decayed->betas({kBeta1, kBeta2}).eps(kEps).weight_decay(kDecay);
    auto plain = std::make_unique<torch::optim::AdamWOptions>(kLrB);
    plain->betas({kBeta1, kBeta2}).eps(kEps).weight_decay(0.0);
    std::vector<torch::optim::OptimizerParamGroup> groups;
    groups.emplace_back(std::vector<torch::Tensor>{w}, std::move(decayed));
    groups.emplace_back(std::vector<torch::Tensor>{b}, std::move(plain));
    optimizer = std::make_unique<fas::FusedAdamW>(groups, torch::optim::AdamWOptions(1.0));
  }
  int64_t Step(const torch::Tensor& p) const {
    return static_cast<torch::optim::AdamWParamState&>(*optimizer->state().at(p.unsafeGetTensorImpl())).step();
  }
};

// ATen's fused AdamW kernel (what FusedAdamW runs for parameters on a GPU) has a CPU implementation as well: on
// the same float32 parameters and gradients, with weight decay, a gradient scale and each step's bias
// corrections, our CPU loop and it agree to float32 rounding, and our step count is the one it is given.
TEST(FusedAdamW, CpuLoopAgreesWithATensFusedKernel) {
  torch::manual_seed(2);
  const auto w0 = torch::randn({64, 33}), b0 = torch::randn({33});
  FloatModel ours(w0, b0, torch::kCPU);
  struct Reference {
    torch::Tensor p, m, v, step;
    double lr, decay;
  };
  Reference rw{w0.clone(), torch::zeros_like(w0), torch::zeros_like(w0), torch::zeros({}), FloatModel::kLrW,
               FloatModel::kDecay};
  Reference rb{b0.clone(), torch::zeros_like(b0), torch::zeros_like(b0), torch::zeros({}), FloatModel::kLrB, 0.0};
  for (int step = 0; step < 8; ++step) {
    const double scale = 0.05 + 0.3 * step;
    for (auto [p, r] : {std::pair{ours.w, &rw}, std::pair{ours.b, &rb}}) {
      const torch::Tensor g = torch::randn_like(p);
      p.mutable_grad() = g.clone();
      r->step += 1;  // ATen's kernel takes the step already counted
      at::_fused_adamw_({r->p}, {g.clone()}, {r->m}, {r->v}, {}, {r->step}, r->lr, FloatModel::kBeta1,
                        FloatModel::kBeta2, r->decay, FloatModel::kEps, false, false,
                        torch::full({}, 1.0 / scale, torch::kFloat32), std::nullopt);
    }
    ours.optimizer->set_grad_scale(scale);
    ours.optimizer->step();
    for (auto [p, r] : {std::pair{ours.w, &rw}, std::pair{ours.b, &rb}}) {
      auto& s = static_cast<torch::optim::AdamWParamState&>(*ours.optimizer->state().at(p.unsafeGetTensorImpl()));
      EXPECT_EQ(s.step(), r->step.item<int64_t>());
      EXPECT_TRUE(torch::allclose(p.detach(), r->p, 1e-6, 1e-6))
          << "step " << step << ": " << (p.detach() - r->p).abs().max().item<double>();
      EXPECT_TRUE(torch::allclose(s.exp_avg(), r->m, 1e-5, 1e-7)) << "step " << step;
      EXPECT_TRUE(torch::allclose(s.exp_avg_sq(), r->v, 1e-5, 1e-7)) << "step " << step;
    }
  }
}

// The same steps on a GPU (ATen's fused kernel) and on the CPU (our loop) give the same parameters and state, a
// parameter without a gradient skipped on both.
TEST(FusedAdamW, GpuStepsEqualCpuSteps) {
  if (!torch::cuda::is_available()) GTEST_SKIP() << "no GPU";
  torch::manual_seed(3);
  const auto w0 = torch::randn({300, 70}), b0 = torch::randn({70});
  FloatModel cpu(w0, b0, torch::kCPU), gpu(w0, b0, torch::Device(torch::kCUDA, 0));
  for (int step = 0; step < 8; ++step) {
    const double scale = 0.05 + 0.3 * step;
    const auto gw = torch::randn_like(w0), gb = torch::randn_like(b0);
    cpu.w.mutable_grad() = gw.clone();
    gpu.w.mutable_grad() = gw.to(gpu.w.device());
    cpu.b.mutable_grad() = step == 2 ? torch::Tensor() : gb.clone();
    gpu.b.mutable_grad() = step == 2 ? torch::Tensor() : gb.to(gpu.b.device());
    for (auto* m : {&cpu, &gpu}) {
      m->optimizer->set_grad_scale(scale);
      m->optimizer->step();
    }
    for (auto [c, g] : {std::pair{cpu.w, gpu.w}, std::pair{cpu.b, gpu.b}}) {
      EXPECT_TRUE(torch::allclose(c.detach(), g.detach().cpu(), 1e-6, 1e-6))
          << "step " << step << ": " << (c.detach() - g.detach().cpu()).abs().max().item<double>();
    }
  }
  EXPECT_EQ(gpu.Step(gpu.b), 7);
  EXPECT_EQ(gpu.Step(gpu.w), cpu.Step(cpu.w));
  auto& s = static_cast<torch::optim::AdamWParamState&>(*gpu.optimizer->state().at(gpu.w.unsafeGetTensorImpl()));
  EXPECT_TRUE(s.exp_avg().is_cuda());
  auto& c = static_cast<torch::optim::AdamWParamState&>(*cpu.optimizer->state().at(cpu.w.unsafeGetTensorImpl()));
  EXPECT_TRUE(torch::allclose(s.exp_avg_sq().cpu(), c.exp_avg_sq(), 1e-5, 1e-7));
}

// A checkpoint written on the CPU resumes on a GPU (the moments land on the parameters' device) and the other way
// round, and the resumed steps are those of the run that stayed.
TEST(FusedAdamW, OptimizerStateMovesBetweenCpuAndGpu) {
  if (!torch::cuda::is_available()) GTEST_SKIP() << "no GPU";
  fas::testing::TempDir dir;
  torch::manual_seed(4);
  const auto w0 = torch::randn({16, 8}), b0 = torch::randn({8});
  FloatModel cpu(w0, b0, torch::kCPU);
  for (int step = 0; step < 3; ++step) {
    cpu.w.mutable_grad() = torch::randn_like(w0);
    cpu.b.mutable_grad() = torch::randn_like(b0);
    cpu.optimizer->step();
  }
  const std::string path = dir.path() + "/optimizer.pt";
  fas::SaveOptimizerState(*cpu.optimizer, path);
  FloatModel gpu(cpu.w.detach(), cpu.b.detach(), torch::Device(torch::kCUDA, 0));
  fas::LoadOptimizerState(*gpu.optimizer, path);
  auto& s = static_cast<torch::optim::AdamWParamState&>(*gpu.optimizer->state().at(gpu.w.unsafeGetTensorImpl()));
  EXPECT_TRUE(s.exp_avg().is_cuda());
  EXPECT_EQ(s.step(), 3);
  const auto gw = torch::randn_like(w0), gb = torch::randn_like(b0);
  cpu.w.mutable_grad() = gw;
  cpu.b.mutable_grad() = gb;
  gpu.w.mutable_grad() = gw.cuda();
  gpu.b.mutable_grad() = gb.cuda();
  cpu.optimizer->step();
  gpu.optimizer->step();
  EXPECT_TRUE(torch::allclose(cpu.w.detach(), gpu.w.detach().cpu(), 1e-6, 1e-6));

  fas::SaveOptimizerState(*gpu.optimizer, path);  // and back
  FloatModel back(w0, b0, torch::kCPU);
  fas::LoadOptimizerState(*back.optimizer, path);
  auto& r = static_cast<torch::optim::AdamWParamState&>(*back.optimizer->state().at(back.w.unsafeGetTensorImpl()));
  EXPECT_TRUE(r.exp_avg().is_cpu());
  EXPECT_EQ(r.step(), 4);
}

}  // namespace

#include <gtest/gtest.h>
#include <torch/torch.h>

#include "fas/engine/adamw.h"
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

TEST(FusedAdamW, SquaredNormSumsEveryElement) {
  const auto a = torch::tensor({3.0, 4.0}), b = torch::tensor({{1.0, 2.0}, {2.0, 4.0}});
  EXPECT_DOUBLE_EQ(fas::SquaredNorm({a, b}), 25.0 + 25.0);
  EXPECT_EQ(fas::SquaredNorm({}), 0.0);
}

}  // namespace

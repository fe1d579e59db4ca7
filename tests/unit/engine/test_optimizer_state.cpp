// The optimiser state of checkpoints: what LibTorch 1.13 builds wrote (tests/fixtures/checkpoints/libtorch-1.13,
// made by scripts/fixtures/make_legacy_optimizer_state.sh) resumes exactly, this build's own round-trips, and a
// state that does not fit the optimiser is refused with the tensor named.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <fstream>

#include "fas/core/error.h"
#include "fas/engine/adamw.h"
#include "fas/engine/optimizer_state.h"
#include "support/test_support.h"

namespace {

// The fixture's parameters, groups and gradients (scripts/fixtures/legacy_optimizer_state.cpp).
std::vector<torch::Tensor> Params() {
  return {torch::arange(12, torch::kFloat32).reshape({4, 3}).mul(0.1).sub(0.5),
          torch::linspace(-1, 1, 3),
          torch::arange(4, torch::kFloat32).reshape({2, 2}).mul(-0.25),
          torch::ones({5})};
}

torch::Tensor Grad(const torch::Tensor& p, int i, int step) { return torch::sin(p * (i + 1) + step); }

// The groups with other options than the fixture's: loading must bring the saved ones back.
template <class Optimizer>
std::unique_ptr<Optimizer> Make(const std::vector<torch::Tensor>& params) {
  std::vector<torch::optim::OptimizerParamGroup> groups;
  groups.emplace_back(std::vector<torch::Tensor>{params[0], params[1]},
                      std::make_unique<torch::optim::AdamWOptions>(1.0));
  groups.emplace_back(std::vector<torch::Tensor>{params[2], params[3]},
                      std::make_unique<torch::optim::AdamWOptions>(1.0));
  return std::make_unique<Optimizer>(groups, torch::optim::AdamWOptions(1.0));
}

torch::optim::AdamWParamState& State(torch::optim::Optimizer& o, const torch::Tensor& p) {
  return static_cast<torch::optim::AdamWParamState&>(*o.state().at(p.unsafeGetTensorImpl()));
}

std::string Fixture(const std::string& name) {
  return fas::testing::SourceDir() + "/tests/fixtures/checkpoints/libtorch-1.13/" + name;
}

struct Expected {
  std::vector<torch::Tensor> after2, moments, after3;
};

Expected LoadExpected() {
  std::vector<torch::Tensor> all;
  torch::load(all, Fixture("expected.pt"));
  EXPECT_EQ(all.size(), 14u);
  return {{all.begin(), all.begin() + 4}, {all.begin() + 4, all.begin() + 10}, {all.begin() + 10, all.end()}};
}

template <class Optimizer>
void ResumesTheLegacyStateExactly() {
  const Expected expected = LoadExpected();
  std::vector<torch::Tensor> params;
  for (const auto& p : expected.after2) params.push_back(p.clone().requires_grad_(true));
  auto adamw = Make<Optimizer>(params);
  fas::LoadOptimizerState(*adamw, Fixture("optimizer.pt"));

  const auto& g0 = static_cast<const torch::optim::AdamWOptions&>(adamw->param_groups()[0].options());
  const auto& g1 = static_cast<const torch::optim::AdamWOptions&>(adamw->param_groups()[1].options());
  EXPECT_DOUBLE_EQ(g0.lr(), 0.01);
  EXPECT_DOUBLE_EQ(g0.weight_decay(), 0.1);
  EXPECT_DOUBLE_EQ(g1.lr(), 0.05);
  EXPECT_DOUBLE_EQ(std::get<0>(g1.betas()), 0.8);
  // Each parameter gets its own state back (LibTorch 2.x's own loader reads 1.13's names as 0, so every
  // parameter would share one state), and the one that never had a gradient has none.
  for (int i = 0; i < 3; ++i) {
    auto& s = State(*adamw, params[i]);
    EXPECT_EQ(s.step(), 2) << i;
    EXPECT_TRUE(torch::equal(s.exp_avg(), expected.moments[2 * i])) << i;
    EXPECT_TRUE(torch::equal(s.exp_avg_sq(), expected.moments[2 * i + 1])) << i;
  }
  EXPECT_EQ(adamw->state().count(params[3].unsafeGetTensorImpl()), 0u);

  {
    torch::NoGradGuard no_grad;
    for (int i = 0; i < 3; ++i) params[i].mutable_grad() = Grad(params[i].detach(), i, 3);
  }
  adamw->step();
  for (int i = 0; i < 4; ++i) {
    // Step 3 here equals step 3 in LibTorch 1.13 up to float32 rounding of the same arithmetic.
    EXPECT_TRUE(torch::allclose(params[i].detach(), expected.after3[i], 1e-6, 1e-7))
        << i << ": " << (params[i].detach() - expected.after3[i]).abs().max().item<float>();
  }
}

TEST(OptimizerState, ALibTorch113CheckpointResumesExactlyInTorchAdamW) {
  ResumesTheLegacyStateExactly<torch::optim::AdamW>();
}

TEST(OptimizerState, ALibTorch113CheckpointResumesExactlyInFusedAdamW) {
  ResumesTheLegacyStateExactly<fas::FusedAdamW>();
}

TEST(OptimizerState, ThisBuildsStateRoundTrips) {
  fas::testing::TempDir dir;
  std::vector<torch::Tensor> params;
  for (const auto& p : Params()) params.push_back(p.clone().requires_grad_(true));
  auto adamw = Make<fas::FusedAdamW>(params);
  for (int step = 1; step <= 2; ++step) {
    torch::NoGradGuard no_grad;
    for (int i = 0; i < 3; ++i) params[i].mutable_grad() = Grad(params[i].detach(), i, step);
    adamw->step();
  }
  const std::string path = dir.path() + "/optimizer.pt";
  fas::SaveOptimizerState(*adamw, path);
  auto back = Make<torch::optim::AdamW>(params);
  fas::LoadOptimizerState(*back, path);
  for (int i = 0; i < 3; ++i) {
    EXPECT_EQ(State(*back, params[i]).step(), 2);
    EXPECT_TRUE(torch::equal(State(*back, params[i]).exp_avg_sq(), State(*adamw, params[i]).exp_avg_sq()));
  }
}

TEST(OptimizerState, AStateThatDoesNotFitTheModelIsRefusedNamingIt) {
  std::vector<torch::Tensor> params;
  for (const auto& p : Params()) params.push_back(p.clone().requires_grad_(true));
  params[1] = torch::zeros({4}).requires_grad_(true);  // the model changed: 4 values where the state has 3
  auto adamw = Make<torch::optim::AdamW>(params);
  try {
    fas::LoadOptimizerState(*adamw, Fixture("optimizer.pt"));
    FAIL() << "a state of another shape was accepted";
  } catch (const fas::Error& e) {
    EXPECT_NE(std::string(e.what()).find("exp_avg of parameter 1 of group 0 is Float[3], the parameter is Float[4]"),
              std::string::npos)
        << e.what();
  }
  EXPECT_TRUE(adamw->state().empty()) << "a refused state must leave the optimiser as it was";

  std::vector<torch::optim::OptimizerParamGroup> one;
  one.emplace_back(params, std::make_unique<torch::optim::AdamWOptions>(1.0));
  torch::optim::AdamW single(one, torch::optim::AdamWOptions(1.0));
  EXPECT_THROW(fas::LoadOptimizerState(single, Fixture("optimizer.pt")), fas::Error);
}

TEST(OptimizerState, AnUnreadableFileIsAnIoError) {
  fas::testing::TempDir dir;
  const std::string path = dir.path() + "/optimizer.pt";
  std::ofstream(path) << "not an archive";
  std::vector<torch::Tensor> params;
  for (const auto& p : Params()) params.push_back(p.clone().requires_grad_(true));
  auto adamw = Make<torch::optim::AdamW>(params);
  EXPECT_THROW(fas::LoadOptimizerState(*adamw, path), fas::IoError);
}

}  // namespace

#include <gtest/gtest.h>
#include <torch/torch.h>

#include <functional>

#include "fas/core/device.h"
#include "fas/core/error.h"
#include "support/test_support.h"

namespace {

std::string ConfigErrorOf(const std::function<void()>& fn) { return fas::testing::ErrorOf<fas::ConfigError>(fn); }

}  // namespace

TEST(Device, SpellingsAreCheckedWithoutAGpu) {
  for (const char* ok : {"auto", "cpu", "cuda", "cuda:0", "cuda:7"}) EXPECT_NO_THROW(fas::ValidateDeviceSpec(ok, "device"));
  for (const char* bad : {"gpu", "CUDA", "cuda:", "cuda:x", "cpu:0", "", "cuda:0 "}) {
    const std::string m = ConfigErrorOf([&] { fas::ValidateDeviceSpec(bad, "train.device"); });
    EXPECT_NE(m.find("train.device"), std::string::npos) << bad;
    EXPECT_NE(m.find("auto | cpu | cuda | cuda:N"), std::string::npos) << bad;
  }
}

TEST(Device, CpuAndAutoResolveWhereTheyCan) {
  EXPECT_TRUE(fas::ResolveDevice("cpu").is_cpu());
  const torch::Device a = fas::ResolveDevice("auto");
  EXPECT_EQ(a.is_cuda(), fas::VisibleGpus() > 0);
}

TEST(Device, AGpuAskedForWhereNoneIsVisibleIsOneClearError) {
  if (fas::VisibleGpus() > 0) GTEST_SKIP() << "a GPU is visible";
  for (const char* spec : {"cuda", "cuda:1"}) {
    const std::string m = ConfigErrorOf([&] { fas::ResolveDevice(spec, "--device"); });
    EXPECT_NE(m.find("--device"), std::string::npos);
    EXPECT_NE(m.find(fas::CudaBuild() ? "none is visible" : "CPU-only LibTorch"), std::string::npos) << m;
    EXPECT_NE(m.find("cpu"), std::string::npos) << m;  // says what to use instead
  }
}

TEST(Device, AGpuPastTheLastIsRefused) {
  if (fas::VisibleGpus() == 0) GTEST_SKIP() << "no GPU";
  const std::string past = "cuda:" + std::to_string(fas::VisibleGpus());
  EXPECT_NE(ConfigErrorOf([&] { fas::ResolveDevice(past); }).find("sees"), std::string::npos);
  // A data-parallel worker takes the GPU of its local rank.
  EXPECT_EQ(fas::ResolveDevice("cuda", "device", fas::VisibleGpus() - 1).index(), fas::VisibleGpus() - 1);
}

TEST(Device, PrecisionsParseAndAutoFollowsTheDevice) {
  EXPECT_EQ(fas::ParsePrecision("bf16", "train.precision"), fas::Precision::kBFloat16);
  EXPECT_EQ(fas::PrecisionDtype(fas::ParsePrecision("fp16", "p")), torch::kFloat16);
  EXPECT_EQ(fas::PrecisionName(fas::Precision::kFloat32), "fp32");
  EXPECT_NE(ConfigErrorOf([] { fas::ParsePrecision("half", "train.precision"); }).find("train.precision"),
            std::string::npos);
  EXPECT_EQ(fas::ResolvePrecision("auto", torch::Device(torch::kCPU), "p"), fas::Precision::kFloat32);
  EXPECT_EQ(fas::ResolvePrecision("auto", torch::Device(torch::kCUDA, 0), "p"), fas::Precision::kBFloat16);
  EXPECT_EQ(fas::ResolvePrecision("fp32", torch::Device(torch::kCUDA, 0), "p"), fas::Precision::kFloat32);
}

TEST(Device, AutocastComputesMatmulsInItsPrecisionAndRestoresTheState) {
  const torch::Device cpu(torch::kCPU);
  const auto a = torch::randn({8, 16}), b = torch::randn({16, 4});
  {
    const fas::Autocast scope(cpu, fas::Precision::kBFloat16);
    const auto y = torch::matmul(a, b);
    EXPECT_EQ(y.scalar_type(), torch::kBFloat16);
    EXPECT_LT((y.to(torch::kFloat32) - torch::matmul(a, b)).abs().max().item<float>(), 0.1f);
  }
  EXPECT_EQ(torch::matmul(a, b).scalar_type(), torch::kFloat32);
  {
    const fas::Autocast scope(cpu, fas::Precision::kFloat32);
    EXPECT_EQ(torch::matmul(a, b).scalar_type(), torch::kFloat32);
  }
}

TEST(Device, ToDeviceKeepsUndefinedAndSameDeviceTensors) {
  const torch::Device cpu(torch::kCPU);
  EXPECT_FALSE(fas::ToDevice(torch::Tensor(), cpu).defined());
  const auto t = torch::ones({3});
  EXPECT_TRUE(fas::ToDevice(t, cpu).is_same(t));
}

TEST(Device, ToDeviceMovesToTheGpuAndBack) {
  if (fas::VisibleGpus() == 0) GTEST_SKIP() << "no GPU";
  const torch::Device gpu(torch::kCUDA, 0);
  const auto t = torch::randn({1000});
  const auto g = fas::ToDevice(t, gpu);
  EXPECT_TRUE(g.is_cuda());
  EXPECT_TRUE(torch::equal(g.cpu(), t));
}

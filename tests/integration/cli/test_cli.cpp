// The real `fas` binary: contract of the command line (every subcommand: --help, exit 0 / 1, one error line).
#include <gtest/gtest.h>

#include <algorithm>

#include "support/test_support.h"

using fas::testing::RunFas;

TEST(Cli, HelpAndVersionExitZero) {
  auto r = RunFas({"--help"});
  EXPECT_EQ(r.exit_code, 0);
  EXPECT_NE(r.out.find("doctor"), std::string::npos);
  r = RunFas({"--version"});
  EXPECT_EQ(r.exit_code, 0);
  EXPECT_NE(r.out.find("fas "), std::string::npos);
  r = RunFas({"doctor", "--help"});
  EXPECT_EQ(r.exit_code, 0);
}

TEST(Cli, UserErrorsGiveOneLineAndExitOne) {
  for (const auto& args : std::vector<std::vector<std::string>>{
           {"no-such-command"}, {"doctor", "--bogus"}, {"--log-level", "loud", "doctor"}, {"--threads", "-3", "doctor"},
           {"config", "show", "--config", "/nonexistent.yaml"}}) {
    auto r = RunFas(args);
    EXPECT_EQ(r.exit_code, 1) << args[0] << ": " << r.err;
    EXPECT_EQ(r.err.rfind("error: ", 0), 0u) << r.err;
    EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
  }
}

TEST(Cli, DoctorReportsLibTorchBlasOpenMPThreadsAndMatmul) {
  auto r = RunFas({"doctor", "--threads", "2", "--matmul-size", "512"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("intra-op threads:     2"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("GFLOP/s"), std::string::npos);
  EXPECT_NE(r.out.find("libtorch:             " FAS_TORCH_VERSION), std::string::npos) << r.out;
  EXPECT_TRUE(r.out.find("(CUDA ") != std::string::npos || r.out.find("(CPU only)") != std::string::npos) << r.out;
  EXPECT_EQ(r.out.find("blas:                 unknown"), std::string::npos) << r.out;
  // One OpenMP runtime in the process: LibTorch's own, which our code links too.
  EXPECT_NE(r.out.find("openmp runtime:       /"), std::string::npos) << r.out;
  EXPECT_EQ(r.out.find("more than one"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("allocator:            tuned"), std::string::npos) << r.out;
}

TEST(Cli, DoctorReportsTheGpusCudaAndWhereAutoComputes) {
  auto r = RunFas({"doctor", "--matmul-size", "64"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  if (r.out.find("(CUDA ") != std::string::npos) {
    // A CUDA build names what it loaded, GPU or not.
    EXPECT_NE(r.out.find("cuda runtime:         1"), std::string::npos) << r.out;
    EXPECT_NE(r.out.find("nccl:                 2."), std::string::npos) << r.out;
    EXPECT_NE(r.out.find("tf32:                 matmul "), std::string::npos) << r.out;
  }
  if (r.out.find("gpus:                 none visible") != std::string::npos) {
    EXPECT_NE(r.out.find("device (auto):        cpu\n"), std::string::npos) << r.out;
    EXPECT_EQ(r.out.find("gpu 0:"), std::string::npos) << r.out;
    EXPECT_EQ(r.out.find("TFLOP/s"), std::string::npos) << r.out;
  } else {
    EXPECT_NE(r.out.find("gpu 0:                "), std::string::npos) << r.out;
    EXPECT_NE(r.out.find("compute capability "), std::string::npos) << r.out;
    EXPECT_NE(r.out.find("device (auto):        cuda:0 ("), std::string::npos) << r.out;
    EXPECT_NE(r.out.find("TFLOP/s (8192x8192 bfloat16 on cuda:0"), std::string::npos) << r.out;
  }
}

TEST(Cli, ConfigShowPrintsResolvedConfig) {
  fas::testing::TempDir d;
  fas::testing::WriteFile(d / "base.yaml", "model:\n  fusion:\n    d_model: 512\n    k_aco: 8\n");
  fas::testing::WriteFile(d / "c.yaml", "extends: base.yaml\nmodel:\n  fusion:\n    k_aco: 4\n");
  auto r = RunFas({"config", "show", "--config", d / "c.yaml", "--set", "model.fusion.d_model=256"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("d_model: 256"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("k_aco: 4"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("best_metric: ua"), std::string::npos) << "defaults are filled in: " << r.out;
  EXPECT_EQ(r.out.find("extends"), std::string::npos) << r.out;
  // Bound to the experiment config: a typo is an error that names the key and suggests the right one.
  fas::testing::WriteFile(d / "typo.yaml", "train:\n  lr: 0.1\n  warmpu: 0.1\n");
  r = RunFas({"config", "show", "--config", d / "typo.yaml"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("train.warmpu"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("train.warmup"), std::string::npos) << r.err;
}

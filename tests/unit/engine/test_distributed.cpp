// DataParallel's collectives in one process: ranks as threads on loopback (Gloo on the CPU), one rank on a GPU
// (NCCL), and the launcher's refusal of more GPU workers than GPUs.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <torch/torch.h>
#include <unistd.h>

#include <chrono>
#include <functional>
#include <thread>

#include "fas/core/device.h"
#include "fas/core/error.h"
#include "fas/engine/distributed.h"

namespace {

using std::chrono::seconds;

// A loopback port nothing listens on now, for the rank-0 store.
int FreePort() {
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof(addr);
  EXPECT_EQ(bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0);
  EXPECT_EQ(getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len), 0);
  close(fd);
  return ntohs(addr.sin_port);
}

fas::DistributedEnv Env(int rank, int world_size, int port) {
  fas::DistributedEnv env;
  env.rank = env.local_rank = rank;
  env.world_size = world_size;
  env.master_port = port;
  return env;
}

// Runs `body(rank)` on `world_size` threads at once (the group forms only when every rank has joined).
void OnRanks(int world_size, const std::function<void(int)>& body) {
  std::vector<std::thread> threads;
  for (int rank = 0; rank < world_size; ++rank) threads.emplace_back(body, rank);
  for (auto& t : threads) t.join();
}

TEST(DataParallel, TwoGlooRanksSumGradientsMetricsAndShareRankZerosWeights) {
  const int port = FreePort();
  std::vector<torch::Tensor> weights(2), grads_a(2), grads_b(2), metrics(2);
  OnRanks(2, [&](int rank) {
    fas::DataParallel group(Env(rank, 2, port), torch::Device(torch::kCPU), std::chrono::milliseconds(20000),
                            /*bucket_bytes=*/8);  // several buckets
    EXPECT_TRUE(group.device().is_cpu());
    auto w = torch::full({3}, static_cast<float>(rank + 1));
    group.Broadcast({w});
    weights[rank] = w;

    // Parameter b has a gradient on rank 0 only: rank 1 contributes zeros.
    auto a = torch::zeros({2, 2}, torch::requires_grad()), b = torch::zeros({5}, torch::requires_grad());
    a.mutable_grad() = torch::full({2, 2}, static_cast<float>(rank + 1));
    if (rank == 0) b.mutable_grad() = torch::arange(5, torch::kFloat32);
    group.SumGradients({a, b});
    grads_a[rank] = a.grad();
    grads_b[rank] = b.grad();

    auto m = torch::tensor({1.0, static_cast<double>(rank)}, torch::kFloat64);
    group.AllReduceSum(m);
    metrics[rank] = m;
    group.Barrier();
  });
  for (int rank = 0; rank < 2; ++rank) {
    EXPECT_TRUE(torch::equal(weights[rank], torch::full({3}, 1.0f))) << "rank " << rank;
    EXPECT_TRUE(torch::equal(grads_a[rank], torch::full({2, 2}, 3.0f))) << "rank " << rank;
    ASSERT_TRUE(grads_b[rank].defined()) << "rank " << rank;
    EXPECT_TRUE(torch::equal(grads_b[rank], torch::arange(5, torch::kFloat32))) << "rank " << rank;
    EXPECT_TRUE(torch::equal(metrics[rank], torch::tensor({2.0, 1.0}, torch::kFloat64))) << "rank " << rank;
  }
}

// NCCL on one GPU, a group of one: every collective works on the GPU whatever device its tensor is on, and a CPU
// metric comes back to the CPU.
TEST(DataParallel, NcclGroupOnAGpuTakesCpuAndGpuTensors) {
  if (!torch::cuda::is_available()) GTEST_SKIP() << "no GPU";
  const torch::Device gpu(torch::kCUDA, 0);
  fas::DataParallel group(Env(0, 1, FreePort()), gpu, std::chrono::milliseconds(20000));
  EXPECT_TRUE(group.device().is_cuda());

  auto w = torch::arange(4, torch::TensorOptions().dtype(torch::kFloat32).device(gpu));
  auto cpu_state = torch::tensor({7}, torch::kInt64);
  group.Broadcast({w, cpu_state});
  EXPECT_TRUE(torch::equal(w.cpu(), torch::arange(4, torch::kFloat32)));
  EXPECT_TRUE(cpu_state.device().is_cpu());
  EXPECT_EQ(cpu_state.item<int64_t>(), 7);

  auto a = torch::zeros({3}, torch::TensorOptions().device(gpu).requires_grad(true));
  auto b = torch::zeros({2}, torch::TensorOptions().device(gpu).requires_grad(true));
  a.mutable_grad() = torch::full({3}, 2.0f, torch::TensorOptions().device(gpu));
  group.SumGradients({a, b});
  EXPECT_TRUE(torch::equal(a.grad().cpu(), torch::full({3}, 2.0f)));
  ASSERT_TRUE(b.grad().defined());
  EXPECT_TRUE(b.grad().device() == gpu);
  EXPECT_TRUE(torch::equal(b.grad().cpu(), torch::zeros({2})));

  auto metric = torch::tensor({1.5, 2.0}, torch::kFloat64);
  group.AllReduceSum(metric);
  EXPECT_TRUE(metric.device().is_cpu());
  EXPECT_TRUE(torch::equal(metric, torch::tensor({1.5, 2.0}, torch::kFloat64)));
  auto on_gpu = torch::ones({2}, torch::TensorOptions().device(gpu));
  group.AllReduceSum(on_gpu);
  EXPECT_TRUE(on_gpu.device() == gpu);
  EXPECT_TRUE(torch::equal(on_gpu.cpu(), torch::ones({2})));
  group.Barrier();
}

// The worker argv, should a check let it through: this test binary, running no test.
const std::vector<std::string> kIdleWorker = {"test_engine", "--gtest_filter=-*"};

TEST(LaunchLocalWorkers, RefusesMoreGpuWorkersThanGpusBeforeStartingAny) {
  const int gpus = fas::VisibleGpus();
  try {
    fas::LaunchLocalWorkers(gpus + 1, kIdleWorker, "cuda");
    FAIL() << "started " << gpus + 1 << " GPU workers on " << gpus << " GPU(s)";
  } catch (const fas::ConfigError& e) {
    const std::string msg = e.what();
    EXPECT_NE(msg.find("device"), std::string::npos) << msg;
    EXPECT_EQ(msg.find('\n'), std::string::npos) << msg;
  }
  // One GPU named for every worker would put them all on it.
  EXPECT_THROW(fas::LaunchLocalWorkers(2, kIdleWorker, "cuda:0"), fas::ConfigError);
}

}  // namespace

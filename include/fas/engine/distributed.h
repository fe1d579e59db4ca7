// Data-parallel training on LibTorch's own distributed engine: c10d process groups (NCCL on GPUs, one process a
// GPU; Gloo on the CPU) with a TCPStore rendezvous, configured by the environment convention of torchrun and SLURM.
#pragma once

#include <torch/torch.h>

#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <vector>

namespace fas {

struct DistributedEnv {
  int rank = 0;
  int world_size = 1;
  int local_rank = 0;
  std::string master_addr = "127.0.0.1";
  int master_port = 29500;

  bool enabled() const { return world_size > 1; }
  // RANK, WORLD_SIZE, LOCAL_RANK, MASTER_ADDR, MASTER_PORT (torchrun); SLURM_PROCID, SLURM_NTASKS, SLURM_LOCALID
  // when those are absent. Throws ConfigError on a malformed or inconsistent value.
  static DistributedEnv FromEnvironment();
};

// One process's membership in a data-parallel group. Every collective has the configured timeout, so a rank
// that dies makes the others fail with an error instead of hanging.
class DataParallel {
 public:
  // `device` is this process's compute device (fas::ComputeDevice()): a GPU forms an NCCL group on it (each rank
  // its own GPU), the CPU a Gloo group. A GPU with a CPU-only LibTorch is a ConfigError.
  DataParallel(const DistributedEnv& env, torch::Device device, std::chrono::milliseconds timeout,
               int64_t bucket_bytes = 25 << 20);
  ~DataParallel();
  DataParallel(const DataParallel&) = delete;
  DataParallel& operator=(const DataParallel&) = delete;

  int rank() const { return env_.rank; }
  int world_size() const { return env_.world_size; }
  torch::Device device() const { return device_; }

  // Makes every rank start from rank 0's values (parameters and buffers).
  void Broadcast(const std::vector<torch::Tensor>& tensors);
  // Sums the gradients of `params` across ranks, in place: flattened into buckets of about `bucket_bytes`, every
  // bucket's all-reduce started at once (asynchronously), then waited for and copied back. Parameters without a
  // gradient on this rank contribute zeros, so every rank sends the same buckets.
  void SumGradients(const std::vector<torch::Tensor>& params);
  // Sums (in place) across ranks: metrics, counts. A tensor on another device than the group's (a CPU metric in an
  // NCCL group) goes there for the collective and its sum comes back.
  void AllReduceSum(torch::Tensor& t);
  void Barrier();

 private:
  struct Impl;  // keeps c10d's headers out of this one
  void Check(const std::string& what, const std::function<void()>& op);
  DistributedEnv env_;
  torch::Device device_;
  int64_t bucket_bytes_;
  std::chrono::milliseconds timeout_;
  std::unique_ptr<Impl> impl_;
  bool failed_ = false;  // a collective failed: the group is torn down without waiting for its peers
};

// `fas train --nproc N`: starts N copies of this program (same arguments, minus --nproc) with RANK, WORLD_SIZE,
// LOCAL_RANK, MASTER_ADDR=127.0.0.1 and a free MASTER_PORT, and waits. If one worker fails, the others are
// stopped and the launcher reports which rank failed and how. `device` is the run's device setting (auto | cpu |
// cuda | cuda:N): where it puts each worker on its own GPU, a machine with fewer GPUs than workers is refused
// before any worker starts. Returns the exit code to use.
int LaunchLocalWorkers(int nproc, const std::vector<std::string>& worker_argv, const std::string& device = "cpu");

}  // namespace fas

#include "fas/engine/distributed.h"

// LibTorch's CMake config defines USE_C10D_NCCL where its CUDA build has NCCL; ProcessGroupNCCL.hpp declares
// nothing without it.
#if defined(FAS_CUDA) && defined(USE_C10D_NCCL)
#define FAS_NCCL 1
#include <torch/csrc/distributed/c10d/ProcessGroupNCCL.hpp>
#endif

#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <spdlog/spdlog.h>
#include <sys/socket.h>
#include <torch/csrc/distributed/c10d/ProcessGroupGloo.hpp>
#include <torch/csrc/distributed/c10d/TCPStore.hpp>
#include <unistd.h>

#include <cstdlib>
#include <thread>

#include "fas/core/error_text.h"
#include "fas/core/device.h"
#include "fas/core/error.h"
#include "fas/core/process.h"

namespace fas {
namespace {

int EnvInt(const char* name, const char* fallback_name, int fallback) {
  const char* v = std::getenv(name);
  if (v == nullptr && fallback_name != nullptr) v = std::getenv(fallback_name);
  if (v == nullptr) return fallback;
  char* end = nullptr;
  const long n = std::strtol(v, &end, 10);
  if (*v == '\0' || *end != '\0' || n < 0 || n > 1 << 20) {
    throw ConfigError(std::string("environment variable ") + name + "='" + v + "' must be a non-negative integer");
  }
  return static_cast<int>(n);
}

// A port the kernel says is free now; the launcher hands it to every worker as MASTER_PORT.
int FreePort() {
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  socklen_t len = sizeof(addr);
  int port = 29500;
  if (fd >= 0 && bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0 &&
      getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) == 0) {
    port = ntohs(addr.sin_port);
  }
  if (fd >= 0) close(fd);
  return port;
}

}  // namespace

DistributedEnv DistributedEnv::FromEnvironment() {
  DistributedEnv env;
  env.world_size = std::max(1, EnvInt("WORLD_SIZE", "SLURM_NTASKS", 1));
  env.rank = EnvInt("RANK", "SLURM_PROCID", 0);
  env.local_rank = EnvInt("LOCAL_RANK", "SLURM_LOCALID", 0);
  if (const char* a = std::getenv("MASTER_ADDR")) env.master_addr = a;
  env.master_port = EnvInt("MASTER_PORT", nullptr, 29500);
  if (env.rank >= env.world_size) {
    throw ConfigError("RANK=" + std::to_string(env.rank) + " is not below WORLD_SIZE=" +
                      std::to_string(env.world_size));
  }
  if (env.master_port == 0 || env.master_port > 65535) {
    throw ConfigError("MASTER_PORT=" + std::to_string(env.master_port) + " is not a TCP port");
  }
  return env;
}

struct DataParallel::Impl {
  c10::intrusive_ptr<c10d::Backend> group;
};

#ifdef FAS_NCCL
namespace {

c10::intrusive_ptr<c10d::Backend> NcclGroup(const c10::intrusive_ptr<c10d::Store>& store, const DistributedEnv& env,
                                            const torch::Device& device, std::chrono::milliseconds timeout) {
  // Blocking wait: a collective that times out or loses a peer throws from Work::wait on this thread, so the
  // rank ends with the one error line below. Without it NCCL's watchdog thread races the wait for the same
  // timeout and, when it wins, aborts the process. A value the user set is kept.
  setenv("TORCH_NCCL_BLOCKING_WAIT", "1", /*overwrite=*/0);
  auto options = c10d::ProcessGroupNCCL::Options::create();
  options->timeout = timeout;
  auto group = c10::make_intrusive<c10d::ProcessGroupNCCL>(store, env.rank, env.world_size, options);
  // Bound to this rank's GPU, the communicator forms now (inside the rendezvous's error handling), not at the
  // first collective.
  group->setBoundDeviceId(device);
  group->eagerConnectSingleDevice(device);
  return group;
}

}  // namespace
#endif

DataParallel::DataParallel(const DistributedEnv& env, torch::Device device, std::chrono::milliseconds timeout,
                           int64_t bucket_bytes)
    : env_(env), device_(device), bucket_bytes_(bucket_bytes), timeout_(timeout), impl_(std::make_unique<Impl>()) {
#ifndef FAS_NCCL
  if (device_.is_cuda()) {
    throw ConfigError("data-parallel training on " + device_.str() + " needs NCCL, but this fas was built against "
                      "a LibTorch without it (CPU only, or CUDA without NCCL); rebuild with the CUDA wheel "
                      "scripts/setup.sh installs, or use device: cpu");
  }
#endif
  Check("rendezvous at " + env.master_addr + ":" + std::to_string(env.master_port), [&] {
    c10d::TCPStoreOptions store_options;
    store_options.port = static_cast<uint16_t>(env.master_port);
    store_options.isServer = env.rank == 0;
    store_options.numWorkers = env.world_size;
    store_options.timeout = timeout;
    auto store = c10::make_intrusive<c10d::TCPStore>(env.master_addr, store_options);
#ifdef FAS_NCCL
    if (device_.is_cuda()) {
      impl_->group = NcclGroup(store, env, device_, timeout);
      return;
    }
#endif
    auto options = c10d::ProcessGroupGloo::Options::create(timeout);
    // The device binds to the address this host uses to reach the master: loopback for one machine.
    options->devices.push_back(env.master_addr == "127.0.0.1" || env.master_addr == "localhost"
                                   ? c10d::ProcessGroupGloo::createDeviceForHostname("127.0.0.1")
                                   : c10d::ProcessGroupGloo::createDefaultDevice());
    impl_->group = c10::make_intrusive<c10d::ProcessGroupGloo>(store, env.rank, env.world_size, options);
  });
}

DataParallel::~DataParallel() {
  if (!impl_->group) return;
  // NCCL's communicators are finalised on a normal exit (Gloo has nothing to do); after a failed collective the
  // peers may be gone, so they are aborted instead of waited for.
  try {
    if (failed_) {
      impl_->group->abort();
    } else {
      impl_->group->shutdown();
    }
  } catch (const std::exception& e) {
    spdlog::warn("data-parallel group shut down with an error on rank {}: {}", env_.rank, e.what());
  }
}

void DataParallel::Check(const std::string& what, const std::function<void()>& op) {
  try {
    op();
  } catch (const std::exception& e) {
    failed_ = true;
    // Gloo and NCCL report a dead peer as a closed connection, a communicator error or a timeout; either way this
    // rank cannot go on.
    const std::string msg = FirstLine(e.what());
    throw Error("data-parallel " + what + " failed on rank " + std::to_string(env_.rank) + " of " +
                std::to_string(env_.world_size) + " (another rank died or timed out after " +
                std::to_string(timeout_.count() / 1000) + " s): " + msg);
  }
}

void DataParallel::Broadcast(const std::vector<torch::Tensor>& tensors) {
  torch::NoGradGuard no_grad;
  Check("broadcast", [&] {
    for (const auto& t : tensors) {
      std::vector<at::Tensor> one{ToDevice(t.detach(), device_)};
      impl_->group->broadcast(one)->wait(timeout_);
      if (t.device() != device_) {
        t.detach().copy_(one[0]);
      } else {
        // The backend wrote into the tensor's memory itself: bumped as an in-place op would be (inference caches
        // key on it).
        torch::autograd::impl::bump_version(t);
      }
    }
  });
}

void DataParallel::SumGradients(const std::vector<torch::Tensor>& params) {
  torch::NoGradGuard no_grad;
  // Buckets of consecutive parameters up to bucket_bytes: few, large messages (the cost is per message).
  std::vector<std::vector<torch::Tensor>> buckets(1);
  int64_t bytes = 0;
  for (const auto& p : params) {
    if (!p.requires_grad()) continue;
    const int64_t b = p.numel() * static_cast<int64_t>(p.element_size());
    if (!buckets.back().empty() && bytes + b > bucket_bytes_) {
      buckets.emplace_back();
      bytes = 0;
    }
    buckets.back().push_back(p);
    bytes += b;
  }
  Check("gradient all-reduce", [&] {
    std::vector<std::vector<at::Tensor>> flats;
    std::vector<c10::intrusive_ptr<c10d::Work>> works;
    for (auto& bucket : buckets) {
      if (bucket.empty()) continue;
      std::vector<torch::Tensor> grads;
      for (auto& p : bucket) {
        grads.push_back(p.grad().defined() ? ToDevice(p.grad(), device_).reshape(-1)
                                           : torch::zeros({p.numel()}, p.options().device(device_)));
      }
      flats.push_back({torch::cat(grads)});
      works.push_back(impl_->group->allreduce(flats.back()));
    }
    size_t k = 0;
    for (auto& bucket : buckets) {
      if (bucket.empty()) continue;
      works[k]->wait(timeout_);
      const torch::Tensor& flat = flats[k][0];
      int64_t offset = 0;
      for (auto& p : bucket) {
        auto g = flat.narrow(0, offset, p.numel()).view(p.sizes());
        if (p.grad().defined()) {
          p.mutable_grad().copy_(g);
        } else {
          p.mutable_grad() = g.to(p.device(), /*non_blocking=*/false, /*copy=*/true);
        }
        offset += p.numel();
      }
      ++k;
    }
  });
}

void DataParallel::AllReduceSum(torch::Tensor& t) {
  Check("metric all-reduce", [&] {
    std::vector<at::Tensor> one{ToDevice(t, device_)};
    impl_->group->allreduce(one)->wait(timeout_);
    if (t.device() != device_) t.copy_(one[0]);
  });
}

void DataParallel::Barrier() {
  Check("barrier", [&] {
    // A one-element all-reduce rather than ProcessGroup::barrier, so the configured timeout applies.
    std::vector<at::Tensor> one{torch::zeros({1}, torch::TensorOptions().device(device_))};
    impl_->group->allreduce(one)->wait(timeout_);
  });
}

int LaunchLocalWorkers(int nproc, const std::vector<std::string>& worker_argv, const std::string& device) {
  if (nproc < 1) throw ConfigError("--nproc must be at least 1");
  if (nproc > 1 && device.rfind("cuda:", 0) == 0) {
    throw ConfigError("device: '" + device + "' puts every worker of --nproc " + std::to_string(nproc) +
                      " on one GPU; use cuda (worker k on GPU k) or auto");
  }
  // Worker k computes on GPU k (ResolveDevice's local rank): the last worker's GPU must exist.
  ResolveDevice(device, "device", nproc - 1);
  const int port = FreePort();
  spdlog::info("launching {} local workers (MASTER_ADDR=127.0.0.1, MASTER_PORT={})", nproc, port);
  // A stop asked of the launcher (Ctrl-C, SIGTERM from a job scheduler) is passed on to every worker, which saves
  // `last` and exits; the launcher waits for them.
  StopSignalForwarder forward;
  std::vector<Process> workers;
  for (int rank = 0; rank < nproc; ++rank) {
    SpawnOptions options;
    options.program = "/proc/self/exe";
    options.env = {{"RANK", std::to_string(rank)},        {"LOCAL_RANK", std::to_string(rank)},
                   {"WORLD_SIZE", std::to_string(nproc)}, {"LOCAL_WORLD_SIZE", std::to_string(nproc)},
                   {"MASTER_ADDR", "127.0.0.1"},          {"MASTER_PORT", std::to_string(port)}};
    try {
      workers.push_back(Process::Spawn(worker_argv, options));
    } catch (const IoError& e) {
      throw Error(std::string("cannot start worker: ") + e.what());
    }
    forward.Forward(workers.back().pid());
    spdlog::debug("worker rank {}: pid {}", rank, workers.back().pid());
  }

  std::string failure;
  int interrupted = 0;
  for (int rank; (rank = WaitAny(workers)) >= 0;) {
    Process& worker = workers[static_cast<size_t>(rank)];
    const ExitStatus status = worker.Wait();
    if (status.ok()) continue;
    if (status.exited(130)) {  // stopped on request; `last` saved by rank 0
      ++interrupted;
      continue;
    }
    if (failure.empty()) {
      failure = "worker rank " + std::to_string(rank) + " (pid " + std::to_string(worker.pid()) + ") " +
                status.Describe();
      spdlog::error("{}; stopping the other workers", failure);
      for (auto& w : workers) w.Kill(SIGTERM);
    }
  }
  if (!failure.empty()) throw Error("distributed training failed: " + failure);
  if (interrupted > 0) throw Interrupted("distributed training stopped on request; continue with --resume");
  return 0;
}

}  // namespace fas

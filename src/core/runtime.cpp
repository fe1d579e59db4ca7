#include "fas/core/runtime.h"

#include <malloc.h>
#include <sched.h>
#include <torch/torch.h>

#include <algorithm>
#include <thread>

namespace fas {
namespace {
bool g_allocator_tuned = false;
}

void InitRuntime(const RuntimeOptions& options) {
  if (!g_allocator_tuned) {
    // mallopt takes an int: a larger constant silently becomes 0 and makes things worse.
    mallopt(M_MMAP_MAX, 0);
    mallopt(M_TRIM_THRESHOLD, 0x7fffffff);
    g_allocator_tuned = true;
  }
  const int threads = options.threads > 0 ? options.threads : AvailableCores();
  // LibTorch 1.13 detected one core on this machine; 2.x detects both, but --threads must hold either way.
  torch::set_num_threads(threads);
}

int AvailableCores() {
  cpu_set_t set;
  CPU_ZERO(&set);
  if (sched_getaffinity(0, sizeof(set), &set) == 0) return std::max(1, CPU_COUNT(&set));
  return std::max(1u, std::thread::hardware_concurrency());
}

int IntraOpThreads() { return torch::get_num_threads(); }

bool AllocatorTuned() { return g_allocator_tuned; }

uint64_t DeriveSeed(uint64_t seed, const std::string& stream) {
  // FNV-1a over the stream name, mixed with the seed by splitmix64: stable across platforms and runs.
  uint64_t h = 1469598103934665603ull;
  for (unsigned char c : stream) h = (h ^ c) * 1099511628211ull;
  uint64_t z = seed + h + 0x9e3779b97f4a7c15ull;
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

void SeedEverything(uint64_t seed) { torch::manual_seed(seed); }

}  // namespace fas

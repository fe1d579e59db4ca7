// Process-wide runtime set-up, done once at the start of main (docs/design.md, "The machine, measured").
#pragma once

#include <cstdint>
#include <string>

namespace fas {

struct RuntimeOptions {
  int threads = 0;  // intra-op threads; 0 = all cores
};

// Applies the allocator fix (no mmap for large blocks, no trimming: each 4 KiB page fault costs ~13 us here)
// and sets LibTorch's intra-op thread count. Safe to call more than once (threads are re-applied).
void InitRuntime(const RuntimeOptions& options);

// Number of cores this process may run on (sched_getaffinity), at least 1.
int AvailableCores();

// Intra-op threads LibTorch will use now.
int IntraOpThreads();

// Whether the allocator fix is active (reported by `fas doctor`).
bool AllocatorTuned();

// Seeds LibTorch's CPU generator and returns a 64-bit stream seed derived from (seed, stream) for
// std::mt19937_64 users, so every random consumer has its own reproducible stream.
void SeedEverything(uint64_t seed);
uint64_t DeriveSeed(uint64_t seed, const std::string& stream);

}  // namespace fas

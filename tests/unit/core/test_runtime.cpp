#include <gtest/gtest.h>
#include <malloc.h>
#include <torch/torch.h>

#include "fas/core/runtime.h"

TEST(Runtime, SetsTheThreadCountAsked) {
  fas::InitRuntime({1});
  EXPECT_EQ(fas::IntraOpThreads(), 1);
  fas::InitRuntime({2});
  EXPECT_EQ(fas::IntraOpThreads(), 2);
}

TEST(Runtime, DefaultUsesAllCores) {
  fas::InitRuntime({0});
  EXPECT_EQ(fas::IntraOpThreads(), fas::AvailableCores());
  EXPECT_TRUE(fas::AllocatorTuned());
}

TEST(Runtime, LargeBlocksAreNotMmappedAfterInit) {
  fas::InitRuntime({1});
  // With M_MMAP_MAX=0 a 64 MiB block comes from the heap, so mallinfo2 counts no mmapped bytes for it.
  const auto before = mallinfo2();
  void* p = malloc(64 << 20);
  const auto during = mallinfo2();
  free(p);
  EXPECT_EQ(during.hblkhd, before.hblkhd);
}

TEST(Runtime, DerivedSeedsAreStableAndDistinct) {
  EXPECT_EQ(fas::DeriveSeed(42, "shuffle"), fas::DeriveSeed(42, "shuffle"));
  EXPECT_NE(fas::DeriveSeed(42, "shuffle"), fas::DeriveSeed(42, "dropout"));
  EXPECT_NE(fas::DeriveSeed(42, "shuffle"), fas::DeriveSeed(43, "shuffle"));
  fas::SeedEverything(7);
  const auto a = torch::rand({4});
  fas::SeedEverything(7);
  EXPECT_TRUE(torch::equal(a, torch::rand({4})));
}

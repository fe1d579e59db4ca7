#include <gtest/gtest.h>

#include <thread>
#include <vector>

#include "fas/core/progress.h"

TEST(Progress, CountsAcrossThreads) {
  fas::Progress p("work", 4000, "item");
  std::vector<std::thread> ts;
  for (int t = 0; t < 4; ++t)
    ts.emplace_back([&] {
      for (int i = 0; i < 1000; ++i) p.Advance();
    });
  for (auto& t : ts) t.join();
  p.Finish();
  EXPECT_EQ(p.done(), 4000);
}

// fp16 dynamic loss scaling: the scale's state machine, as torch.cuda.amp.GradScaler runs it.
#include "fas/engine/grad_scaler.h"

#include <gtest/gtest.h>

#include <cmath>
#include <limits>

#include "fas/core/error.h"

namespace {

TEST(GradScaler, StartsAt65536AndDoublesAfter2000GoodSteps) {
  fas::GradScaler s;
  EXPECT_EQ(s.scale(), 65536.0);
  EXPECT_EQ(s.growth_interval(), 2000);
  for (int i = 0; i < 1999; ++i) s.Update(true);
  EXPECT_EQ(s.scale(), 65536.0);
  EXPECT_EQ(s.growth_tracker(), 1999);
  s.Update(true);
  EXPECT_EQ(s.scale(), 131072.0);
  EXPECT_EQ(s.growth_tracker(), 0);
}

TEST(GradScaler, AnOverflowHalvesTheScaleAndRestartsTheCount) {
  fas::GradScaler s(8.0, 3);
  s.Update(true);
  s.Update(true);
  s.Update(false);  // two good steps lost
  EXPECT_EQ(s.scale(), 4.0);
  EXPECT_EQ(s.growth_tracker(), 0);
  s.Update(false);
  EXPECT_EQ(s.scale(), 2.0);
  for (int i = 0; i < 3; ++i) s.Update(true);
  EXPECT_EQ(s.scale(), 4.0);
  s.Update(true);
  EXPECT_EQ(s.growth_tracker(), 1);
}

TEST(GradScaler, RestoresACheckpointsStateAndRefusesAnImpossibleOne) {
  fas::GradScaler s(8.0, 3);
  s.Restore(0.5, 2);
  EXPECT_EQ(s.scale(), 0.5);
  EXPECT_EQ(s.growth_tracker(), 2);
  s.Update(true);
  EXPECT_EQ(s.scale(), 1.0);
  EXPECT_THROW(s.Restore(0.0, 0), fas::Error);
  EXPECT_THROW(s.Restore(std::numeric_limits<double>::infinity(), 0), fas::Error);
  EXPECT_THROW(s.Restore(std::nan(""), 0), fas::Error);
  EXPECT_THROW(s.Restore(4.0, 3), fas::Error);
  EXPECT_THROW(s.Restore(4.0, -1), fas::Error);
  EXPECT_EQ(s.scale(), 1.0);  // a refused state changes nothing
  EXPECT_THROW(fas::GradScaler(0.0, 1), fas::Error);
}

}  // namespace

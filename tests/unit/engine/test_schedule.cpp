#include <gtest/gtest.h>

#include <cmath>

#include "fas/core/error.h"
#include "fas/engine/early_stopping.h"
#include "fas/engine/schedule.h"

namespace {

TEST(Schedule, WarmupIsFractionBelowOneAndStepsFromOne) {
  EXPECT_EQ(fas::ResolveWarmupSteps(0.05, 1000), 50);
  EXPECT_EQ(fas::ResolveWarmupSteps(0.0, 1000), 0);
  EXPECT_EQ(fas::ResolveWarmupSteps(200, 1000), 200);
  EXPECT_EQ(fas::ResolveWarmupSteps(1, 1000), 1);
  EXPECT_THROW(fas::ResolveWarmupSteps(2.5, 1000), fas::ConfigError);
  EXPECT_THROW(fas::ResolveWarmupSteps(-0.1, 1000), fas::ConfigError);
}

// Values of transformers' get_cosine_schedule_with_warmup(opt, 10, 110) / get_linear_schedule_with_warmup,
// worked by hand: warmup step/10; then p = (step-10)/100.
TEST(Schedule, CosineMatchesHuggingFaceDefinition) {
  fas::LrSchedule s("cosine", 10, 110);
  EXPECT_DOUBLE_EQ(s.Factor(0), 0.0);
  EXPECT_DOUBLE_EQ(s.Factor(5), 0.5);
  EXPECT_DOUBLE_EQ(s.Factor(10), 1.0);
  EXPECT_NEAR(s.Factor(60), 0.5, 1e-12);                                  // p = 0.5
  EXPECT_NEAR(s.Factor(35), 0.5 * (1 + std::cos(M_PI * 0.25)), 1e-12);  // 0.853553...
  EXPECT_NEAR(s.Factor(110), 0.0, 1e-12);
  EXPECT_NEAR(s.Factor(500), 0.0, 1e-12);  // past the end stays at 0, does not rise again
}

TEST(Schedule, LinearAndConstant) {
  fas::LrSchedule lin("linear", 10, 110);
  EXPECT_DOUBLE_EQ(lin.Factor(3), 0.3);
  EXPECT_NEAR(lin.Factor(35), 0.75, 1e-12);
  EXPECT_NEAR(lin.Factor(109), 0.01, 1e-12);
  EXPECT_DOUBLE_EQ(lin.Factor(110), 0.0);
  fas::LrSchedule c("constant", 4, 100);
  EXPECT_DOUBLE_EQ(c.Factor(1), 0.25);
  EXPECT_DOUBLE_EQ(c.Factor(4), 1.0);
  EXPECT_DOUBLE_EQ(c.Factor(99), 1.0);
  fas::LrSchedule nowarm("cosine", 0, 100);
  EXPECT_DOUBLE_EQ(nowarm.Factor(0), 1.0);
}

TEST(Schedule, RejectsUnknownKindAndEmptyRun) {
  EXPECT_THROW(fas::LrSchedule("step", 0, 10), fas::ConfigError);
  EXPECT_THROW(fas::LrSchedule("cosine", 0, 0), fas::ConfigError);
}

TEST(EarlyStopping, HigherIsBetterWithMinDeltaAndPatience) {
  fas::EarlyStopping e("ua", 2, 0.01);
  EXPECT_TRUE(e.higher_is_better());
  EXPECT_TRUE(e.Update(0.50, 10));
  EXPECT_FALSE(e.Update(0.505, 20));  // within min_delta: not an improvement
  EXPECT_FALSE(e.ShouldStop());
  EXPECT_TRUE(e.Update(0.52, 30));  // resets the count
  EXPECT_EQ(e.best_step(), 30);
  EXPECT_FALSE(e.Update(0.40, 40));
  EXPECT_FALSE(e.Update(std::nan(""), 50));  // NaN never improves
  EXPECT_TRUE(e.ShouldStop());
  EXPECT_DOUBLE_EQ(e.best(), 0.52);
}

TEST(EarlyStopping, LossIsLowerIsBetterAndPatienceZeroNeverStops) {
  fas::EarlyStopping e("loss", 0, 0.0);
  EXPECT_FALSE(e.higher_is_better());
  EXPECT_TRUE(e.Update(2.0, 1));
  EXPECT_TRUE(e.Update(1.5, 2));
  for (int i = 0; i < 20; ++i) EXPECT_FALSE(e.Update(3.0, 3 + i));
  EXPECT_FALSE(e.ShouldStop());
  EXPECT_FALSE(fas::EarlyStopping("dev_loss", 1, 0).higher_is_better());
}

TEST(EarlyStopping, ErrorRatesAreLowerIsBetter) {
  fas::EarlyStopping e("wer", 0, 0.0);
  EXPECT_FALSE(e.higher_is_better());
  EXPECT_TRUE(e.Update(1.0, 1));
  EXPECT_TRUE(e.Update(0.6, 2));
  EXPECT_FALSE(e.Update(0.7, 3));
  EXPECT_EQ(e.best_step(), 2);
  EXPECT_FALSE(fas::EarlyStopping("cer", 0, 0).higher_is_better());
  EXPECT_FALSE(fas::EarlyStopping("test_wer", 0, 0).higher_is_better());
  EXPECT_TRUE(fas::EarlyStopping("answer", 0, 0).higher_is_better());  // a suffix, not a word: still higher
}

}  // namespace

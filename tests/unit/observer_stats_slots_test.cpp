// The slots of cgroup_stats given to watched cgroups: never 0, never one taken, a given-back one as late as possible.
#include <gtest/gtest.h>

#include "observer/stats_slots.hpp"

namespace sigdrain {
namespace {

TEST(StatsSlots, GivesEverySlotButZeroOnce) {
  StatsSlots slots(4);
  EXPECT_EQ(slots.take(), 1u);
  EXPECT_EQ(slots.take(), 2u);
  EXPECT_EQ(slots.take(), 3u);
  EXPECT_EQ(slots.take(), std::nullopt) << "slot 0 means none";
}

TEST(StatsSlots, AGivenBackSlotComesAgainOnlyAfterTheOthers) {
  StatsSlots slots(5);
  EXPECT_EQ(slots.take(), 1u);
  EXPECT_EQ(slots.take(), 2u);
  slots.give_back(1);
  EXPECT_EQ(slots.take(), 3u);
  EXPECT_EQ(slots.take(), 4u);
  EXPECT_EQ(slots.take(), 1u) << "round the array";
  EXPECT_EQ(slots.take(), std::nullopt);
  slots.give_back(0);  // ignored: 0 is never given
  slots.give_back(9);
  EXPECT_EQ(slots.take(), std::nullopt);
}

TEST(StatsSlots, SlotsFoundTakenAreSkippedAndGivenAfter) {
  StatsSlots slots(6);
  slots.mark_taken(2);
  slots.mark_taken(4);
  slots.mark_taken(0);   // ignored
  slots.mark_taken(17);  // out of range: ignored
  EXPECT_EQ(slots.take(), 5u) << "after the last found taken";
  EXPECT_EQ(slots.take(), 1u);
  EXPECT_EQ(slots.take(), 3u);
  EXPECT_EQ(slots.take(), std::nullopt);
}

}  // namespace
}  // namespace sigdrain

// The compensation for connections older than the observer, which safe-stop and the daemon share.
#include <gtest/gtest.h>

#include "stop/old_connections.hpp"

namespace sigdrain {
namespace {

using namespace std::chrono_literals;

const Clock::time_point kNow{std::chrono::seconds(50)};

DrainSample quiet_sample() { return DrainSample{kNow, 0, 3, 9, kNow - 5s}; }

TEST(OldConnections, UnseenOpenOnesCountInFlightAndAsActivityNow) {
  OldConnections old({1, 2, 3});
  DrainSample s = old.adjust(quiet_sample(), {1, 2, 3, 4}, 1);
  EXPECT_EQ(s.inflight, 2) << "three old, one adopted by BPF since";
  EXPECT_EQ(s.last_activity, kNow) << "the quiet window waits for them";
  EXPECT_EQ(s.open_inbound, 3);
  EXPECT_EQ(s.requests_completed, 9u);
}

TEST(OldConnections, ClosedOnesAreForgottenForGood) {
  OldConnections old({1, 2});
  (void)old.adjust(quiet_sample(), {1}, 0);
  EXPECT_EQ(old.size(), 1u);
  DrainSample s = old.adjust(quiet_sample(), {1, 2}, 0);
  EXPECT_EQ(s.inflight, 1) << "a socket of inode 2 again is a new connection, which BPF sees from its start";
  (void)old.adjust(quiet_sample(), {}, 0);
  EXPECT_TRUE(old.empty());
}

TEST(OldConnections, AllSeenLeavesTheSampleAsItWas) {
  OldConnections old({1, 2});
  DrainSample s = old.adjust(quiet_sample(), {1, 2}, 2);
  EXPECT_EQ(s.inflight, 0);
  EXPECT_EQ(s.last_activity, kNow - 5s);
  DrainSample negative = quiet_sample();
  negative.inflight = -1;  // a counter race
  EXPECT_EQ(old.adjust(negative, {1, 2}, 1).inflight, 1) << "a negative count reads as 0";
}

}  // namespace
}  // namespace sigdrain

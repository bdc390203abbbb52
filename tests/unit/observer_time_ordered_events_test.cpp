// Events of per-CPU rings put back in time order: none handed on before it is older than the window, all of them
// oldest first across rings, and all that are held when the reader stops.
#include <gtest/gtest.h>

#include <algorithm>
#include <stdexcept>
#include <vector>

#include "observer/time_ordered_events.hpp"

namespace sigdrain {
namespace {

ObservedEvent signal_at(uint64_t time_ns, uint32_t target) {
  SignalEvent e{};
  e.kind = SIGDRAIN_EV_SIGNAL;
  e.time_ns = time_ns;
  e.target_pid = target;
  return e;
}

ObservedEvent exit_at(uint64_t time_ns, uint32_t tgid) {
  ExitEvent e{};
  e.kind = SIGDRAIN_EV_EXIT;
  e.time_ns = time_ns;
  e.tgid = tgid;
  return e;
}

struct Handed {
  std::vector<uint64_t> times;
  auto handler() {
    return [this](const ObservedEvent& ev) { times.push_back(event_time_ns(ev)); };
  }
};

TEST(TimeOrderedEvents, ASignalReadAfterTheDeathItCausedIsHandedOnFirst) {
  TimeOrderedEvents events(3, 10);
  // CPU 0's ring is read first and holds the target's exit; CPU 1's holds the signal, 5 ns older.
  events.add(1, exit_at(1005, 42));
  events.add(2, signal_at(1000, 42));
  std::vector<ObservedEvent> handed;
  EXPECT_EQ(events.release_all([&](const ObservedEvent& ev) { handed.push_back(ev); }), 2u);
  ASSERT_EQ(handed.size(), 2u);
  EXPECT_TRUE(std::holds_alternative<SignalEvent>(handed[0]));
  EXPECT_TRUE(std::holds_alternative<ExitEvent>(handed[1]));
}

TEST(TimeOrderedEvents, HoldsWhatIsYoungerThanTheWindow) {
  TimeOrderedEvents events(2, 100);
  events.add(0, signal_at(1000, 1));
  events.add(1, signal_at(1050, 2));
  events.add(0, signal_at(1101, 3));
  Handed handed;
  EXPECT_EQ(events.release_settled(50, handed.handler()), 0u) << "a clock below the window hands on nothing";
  EXPECT_EQ(events.release_settled(1150, handed.handler()), 2u);
  EXPECT_EQ(handed.times, (std::vector<uint64_t>{1000, 1050}));
  EXPECT_EQ(events.held(), 1u);
  // A later read finds an event older than the one held: it goes first.
  events.add(1, signal_at(1100, 4));
  EXPECT_EQ(events.release_settled(1201, handed.handler()), 2u);
  EXPECT_EQ(handed.times, (std::vector<uint64_t>{1000, 1050, 1100, 1101}));
  EXPECT_EQ(events.held(), 0u);
}

TEST(TimeOrderedEvents, MergesManyRingsOldestFirstAndEqualTimesByRing) {
  TimeOrderedEvents events(4, 0);
  for (uint64_t t = 0; t < 40; ++t) events.add(t % 4, signal_at(1000 + (t / 4) * 10 + (3 - t % 4), static_cast<uint32_t>(t)));
  events.add(3, signal_at(1200, 100));
  events.add(1, signal_at(1200, 101));
  std::vector<uint32_t> targets;
  Handed handed;
  events.release_settled(2000, [&](const ObservedEvent& ev) {
    handed.times.push_back(event_time_ns(ev));
    targets.push_back(std::get<SignalEvent>(ev).target_pid);
  });
  ASSERT_EQ(handed.times.size(), 42u);
  EXPECT_TRUE(std::is_sorted(handed.times.begin(), handed.times.end()));
  EXPECT_EQ(targets[40], 101u) << "equal times: the lower ring first";
  EXPECT_EQ(targets[41], 100u);
}

TEST(TimeOrderedEvents, ReleaseAllEmptiesEveryRing) {
  TimeOrderedEvents events(2, UINT64_MAX);
  events.add(0, signal_at(5, 1));
  events.add(1, signal_at(3, 2));
  Handed handed;
  EXPECT_EQ(events.release_settled(UINT64_MAX - 1, handed.handler()), 0u);
  EXPECT_EQ(events.release_all(handed.handler()), 2u);
  EXPECT_EQ(handed.times, (std::vector<uint64_t>{3, 5}));
  EXPECT_EQ(events.held(), 0u);
  EXPECT_EQ(events.release_all(handed.handler()), 0u);
}

TEST(TimeOrderedEvents, AThrowingHandlerLeavesTheRestHeld) {
  TimeOrderedEvents events(1, 0);
  events.add(0, signal_at(1, 1));
  events.add(0, signal_at(2, 2));
  EXPECT_THROW(events.release_all([](const ObservedEvent&) { throw std::runtime_error("handler"); }), std::runtime_error);
  EXPECT_EQ(events.held(), 1u) << "the event handed on is not held again";
}

}  // namespace
}  // namespace sigdrain

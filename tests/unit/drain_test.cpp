#include "policy/drain.hpp"

#include <optional>
#include <string>
#include <vector>

#include <fmt/format.h>
#include <gtest/gtest.h>

namespace sigdrain {
namespace {

using namespace std::chrono_literals;

const Clock::time_point kStart{std::chrono::seconds(5000)};

DrainTimes times(std::chrono::milliseconds timeout, std::chrono::milliseconds quiet = 1000ms) {
  auto t = plan_drain(kStart, timeout, quiet);
  EXPECT_TRUE(t.ok()) << t.error().message;
  return t.ok() ? t.value() : DrainTimes{};
}

DrainSample at(std::chrono::milliseconds since_start, int64_t inflight, std::chrono::milliseconds last_activity,
               uint64_t completed = 0) {
  return DrainSample{kStart + since_start, inflight, 1, completed, kStart + last_activity};
}

// ---- plan_drain ----

TEST(DrainPlan, ReserveIsAQuarterOfTheTimeout) {
  DrainTimes t = times(20s);
  EXPECT_EQ(t.start, kStart);
  EXPECT_EQ(t.kill_at, kStart + 20s);
  EXPECT_EQ(t.drain_deadline, kStart + 15s);
}

TEST(DrainPlan, ReserveIsAtLeastOneSecond) {
  EXPECT_EQ(times(3s, 500ms).drain_deadline, kStart + 2s) << "3s/4 = 750ms, raised to 1s";
  EXPECT_EQ(times(4s).drain_deadline, kStart + 3s) << "exactly 1s";
}

TEST(DrainPlan, LargeTimeoutsCapTheReserveAtTenSeconds) {
  EXPECT_EQ(times(40s).drain_deadline, kStart + 30s) << "exactly 10s";
  EXPECT_EQ(times(300s).drain_deadline, kStart + 290s);
  EXPECT_EQ(times(3600s).drain_deadline, kStart + 3590s);
}

TEST(DrainPlan, NeverEndsBeforeTheQuietWindow) {
  // 11 s timeout, reserve 2.75 s -> 8.25 s, but the quiet window is 10 s.
  DrainTimes t = times(11s, 10s);
  EXPECT_EQ(t.drain_deadline, kStart + 10s);
  EXPECT_EQ(t.kill_at, kStart + 11s);
  EXPECT_EQ(times(2s).drain_deadline, kStart + 1s) << "the shortest allowed timeout for the default quiet";
  EXPECT_EQ(times(1s, 0ms).drain_deadline, kStart) << "no quiet, no room: the signal goes out at once";
}

TEST(DrainPlan, TimeoutShorterThanQuietPlusOneSecondIsAnError) {
  auto r = plan_drain(kStart, 1999ms, 1000ms);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message.find("1999 ms"), std::string::npos) << r.error().message;
  EXPECT_NE(r.error().message.find("1000 ms"), std::string::npos) << r.error().message;
  EXPECT_EQ(r.error().message.find('\n'), std::string::npos);
  EXPECT_FALSE(plan_drain(kStart, 0ms, 0ms).ok());
  EXPECT_FALSE(plan_drain(kStart, -5s, 1000ms).ok());
  EXPECT_FALSE(plan_drain(kStart, 10s, -1ms).ok()) << "negative quiet";
  EXPECT_TRUE(plan_drain(kStart, 2000ms, 1000ms).ok());
}

TEST(DrainPlan, DefaultQuietIsOneSecond) { EXPECT_EQ(kDefaultQuiet, 1000ms); }

// ---- DrainTracker ----

TEST(DrainTracker, IdleExactlyWhenTheQuietWindowHasPassed) {
  DrainTracker tr(times(10s), 1000ms, 0);
  EXPECT_EQ(tr.update(at(999ms, 0, 0ms)), DrainState::draining) << "the stop itself opens a quiet window";
  EXPECT_EQ(tr.update(at(1000ms, 0, 0ms)), DrainState::idle) << "exactly quiet counts";
}

TEST(DrainTracker, ActivityBeforeTheStartDoesNotShortenTheWindow) {
  DrainTracker tr(times(10s), 1000ms, 0);
  EXPECT_EQ(tr.update(at(500ms, 0, -5000ms)), DrainState::draining);
  EXPECT_EQ(tr.update(at(1000ms, 0, -5000ms)), DrainState::idle);
}

TEST(DrainTracker, ActivityResetsTheQuietWindow) {
  DrainTracker tr(times(10s), 1000ms, 0);
  EXPECT_EQ(tr.update(at(900ms, 0, 800ms)), DrainState::draining);
  EXPECT_EQ(tr.update(at(1500ms, 0, 800ms)), DrainState::draining) << "700 ms since the activity";
  EXPECT_EQ(tr.update(at(1799ms, 0, 800ms)), DrainState::draining);
  EXPECT_EQ(tr.update(at(1800ms, 0, 800ms)), DrainState::idle);
  // New traffic after an idle answer: draining again, until its own quiet window passes.
  EXPECT_EQ(tr.update(at(2000ms, 0, 1900ms)), DrainState::draining);
  EXPECT_EQ(tr.update(at(2900ms, 0, 1900ms)), DrainState::idle);
}

TEST(DrainTracker, AnOlderLastActivityInALaterSampleIsIgnored) {
  DrainTracker tr(times(10s), 1000ms, 0);
  EXPECT_EQ(tr.update(at(1500ms, 0, 1400ms)), DrainState::draining);
  EXPECT_EQ(tr.update(at(1600ms, 0, 100ms)), DrainState::draining) << "the latest activity seen still counts";
  EXPECT_EQ(tr.update(at(2400ms, 0, 100ms)), DrainState::idle);
}

TEST(DrainTracker, InflightRequestsKeepItDraining) {
  DrainTracker tr(times(10s), 1000ms, 0);
  EXPECT_EQ(tr.update(at(5000ms, 1, 0ms)), DrainState::draining) << "a slow request without traffic is still in flight";
  EXPECT_EQ(tr.update(at(5000ms, 0, 0ms)), DrainState::idle);
}

TEST(DrainTracker, NegativeInflightCountsAsZero) {
  DrainTracker tr(times(10s), 1000ms, 0);
  EXPECT_EQ(tr.update(at(2000ms, -3, 0ms)), DrainState::idle);
}

TEST(DrainTracker, DeadlineWhenNeverIdle) {
  DrainTracker tr(times(10s), 1000ms, 0);  // deadline at 7.5 s
  EXPECT_EQ(tr.update(at(7499ms, 4, 7499ms)), DrainState::draining);
  EXPECT_EQ(tr.update(at(7500ms, 4, 7500ms)), DrainState::deadline) << "exactly at the deadline";
  EXPECT_EQ(tr.update(at(9000ms, 0, 8500ms)), DrainState::deadline) << "quiet, but not for long enough";
}

TEST(DrainTracker, IdleWinsOverTheDeadline) {
  DrainTracker tr(times(10s), 1000ms, 0);
  EXPECT_EQ(tr.update(at(7500ms, 0, 6000ms)), DrainState::idle);
  EXPECT_EQ(tr.update(at(8000ms, 0, 6000ms)), DrainState::idle);
}

TEST(DrainTracker, DeadlineBeforeIdleWithALongQuietWindow) {
  // 11 s timeout with a 10 s quiet window: the deadline is the quiet window's end, where idle wins if it can.
  DrainTracker tr(times(11s, 10s), 10s, 0);
  EXPECT_EQ(tr.update(at(10s, 0, 0ms)), DrainState::idle);
  EXPECT_EQ(tr.update(at(10s, 0, 500ms)), DrainState::deadline);
}

TEST(DrainTracker, CountsRequestsCompletedDuringTheDrainAndItsLength) {
  DrainTracker tr(times(10s), 1000ms, 40);
  EXPECT_EQ(tr.requests_completed_during_drain(), 0u);
  EXPECT_EQ(tr.drained_for(), 0ms);
  (void)tr.update(at(300ms, 2, 300ms, 42));
  (void)tr.update(at(1200ms, 0, 1100ms, 45));
  EXPECT_EQ(tr.requests_completed_during_drain(), 5u);
  EXPECT_EQ(tr.drained_for(), 1200ms);
  (void)tr.update(at(1300ms, 0, 1100ms, 41));  // a counter never goes back: keep the highest
  EXPECT_EQ(tr.requests_completed_during_drain(), 5u);
  EXPECT_EQ(tr.drained_for(), 1300ms);
}

TEST(DrainTracker, ZeroQuietIsIdleAsSoonAsNothingIsInFlight) {
  DrainTracker tr(times(5s, 0ms), 0ms, 0);
  EXPECT_EQ(tr.update(at(0ms, 0, 0ms)), DrainState::idle);
}

// ---- min-drain ----

TEST(DrainMinimum, HoldsAnIdleContainerUntilTheMinimum) {
  // 30 s grace period, 1 s quiet, 5 s min-drain: idle at 1 s, yet held until 5 s.
  DrainTracker tr(with_min_drain(times(30s), 5000ms), 1000ms, 0);
  EXPECT_EQ(tr.update(at(1000ms, 0, 0ms)), DrainState::draining) << "quiet window over, min-drain not";
  EXPECT_EQ(tr.update(at(4999ms, 0, 0ms)), DrainState::draining);
  EXPECT_EQ(tr.update(at(5000ms, 0, 0ms)), DrainState::idle) << "exactly the minimum";
}

TEST(DrainMinimum, ALateRequestInsideTheMinimumStartsANewQuietWindow) {
  // The endpoint-removal lag: a request arrives at 3 s, after the quiet window, inside the min-drain.
  DrainTracker tr(with_min_drain(times(30s), 5000ms), 1000ms, 0);
  EXPECT_EQ(tr.update(at(2000ms, 0, 0ms)), DrainState::draining);
  EXPECT_EQ(tr.update(at(3000ms, 1, 3000ms)), DrainState::draining);
  EXPECT_EQ(tr.update(at(5500ms, 0, 5200ms)), DrainState::draining) << "its response was the last activity";
  EXPECT_EQ(tr.update(at(6200ms, 0, 5200ms)), DrainState::idle);
}

TEST(DrainMinimum, NeverPastTheDrainDeadline) {
  DrainTimes t = with_min_drain(times(4s), 60s);  // deadline at 3 s
  EXPECT_EQ(t.earliest_release, t.drain_deadline) << "the grace period wins";
  DrainTracker tr(t, 1000ms, 0);
  EXPECT_EQ(tr.update(at(2999ms, 0, 0ms)), DrainState::draining);
  EXPECT_EQ(tr.update(at(3000ms, 0, 0ms)), DrainState::idle);
}

TEST(DrainMinimum, ZeroOrNegativeHoldsNothingBack) {
  DrainTimes plain = times(10s);
  EXPECT_EQ(with_min_drain(plain, 0ms).earliest_release, plain.earliest_release);
  EXPECT_EQ(with_min_drain(plain, -5ms).earliest_release, plain.earliest_release);
  DrainTracker tr(with_min_drain(plain, 0ms), 1000ms, 0);
  EXPECT_EQ(tr.update(at(1000ms, 0, 0ms)), DrainState::idle);
}

// ---- drain_for_stop / drain_for_signalled_stop: one place for safe-stop's and the daemon's drain times ----

LabelSettings drain_labels(std::optional<std::chrono::milliseconds> quiet, std::optional<std::chrono::milliseconds> max_drain,
                           std::optional<std::chrono::milliseconds> min_drain) {
  LabelSettings l;
  l.quiet = quiet;
  l.max_drain = max_drain;
  l.min_drain = min_drain;
  return l;
}

DrainSettings with_timeout(std::chrono::milliseconds timeout) {
  DrainSettings s;
  s.timeout = timeout;
  return s;
}

StopDrain safe_stop_drain(const LabelSettings& labels, const DrainSettings& settings) {
  auto d = drain_for_stop(kStart, labels, settings);
  EXPECT_TRUE(d.ok()) << d.error().message;
  return d.ok() ? d.value() : StopDrain{};
}

void expect_same(const StopDrain& a, const StopDrain& b, const std::string& what) {
  EXPECT_EQ(a.times.start, b.times.start) << what;
  EXPECT_EQ(a.times.drain_deadline, b.times.drain_deadline) << what;
  EXPECT_EQ(a.times.kill_at, b.times.kill_at) << what;
  EXPECT_EQ(a.times.earliest_release, b.times.earliest_release) << what;
  EXPECT_EQ(a.quiet, b.quiet) << what;
}

TEST(StopDrain, SafeStopAndTheDaemonGiveTheSameContainerTheSameTimes) {
  // Every label combination a container may carry, under every timeout that leaves room: both callers agree.
  const std::vector<std::optional<std::chrono::milliseconds>> quiets{std::nullopt, 0ms, 500ms, 3000ms};
  const std::vector<std::optional<std::chrono::milliseconds>> caps{std::nullopt, 0ms, 200ms, 2500ms, 20s};
  int compared = 0;
  for (auto timeout : {5s, 10s, 30s, 120s})
    for (const auto& quiet : quiets)
      for (const auto& max_drain : caps)
        for (const auto& min_drain : caps) {
          LabelSettings labels = drain_labels(quiet, max_drain, min_drain);
          std::string what = fmt::format("timeout {} quiet {} max {} min {}", timeout.count(), quiet ? quiet->count() : -1,
                                         max_drain ? max_drain->count() : -1, min_drain ? min_drain->count() : -1);
          expect_same(safe_stop_drain(labels, with_timeout(timeout)),
                      drain_for_signalled_stop(kStart, labels, with_timeout(timeout)), what);
          ++compared;
        }
  EXPECT_EQ(compared, 4 * 4 * 5 * 5);
}

TEST(StopDrain, SafeStopHonoursTheMinDrainLabel) {
  // The bug this fixes: safe-stop ignored sigdrain.io/min-drain-ms; a 30 s timeout, 5 s min-drain.
  StopDrain d = safe_stop_drain(drain_labels(std::nullopt, std::nullopt, 5000ms), with_timeout(30s));
  EXPECT_EQ(d.times.earliest_release, kStart + 5s);
  EXPECT_EQ(d.times.drain_deadline, kStart + 22500ms);
  DrainTracker tr(d.times, d.quiet, 0);
  EXPECT_EQ(tr.update(at(1000ms, 0, 0ms)), DrainState::draining) << "idle after the quiet window, held by the min-drain";
  EXPECT_EQ(tr.update(at(5000ms, 0, 0ms)), DrainState::idle);
}

TEST(StopDrain, MinDrainNeverPastTheDeadline) {
  for (auto cap : {std::optional<std::chrono::milliseconds>{}, std::optional<std::chrono::milliseconds>{4000ms}}) {
    StopDrain d = safe_stop_drain(drain_labels(std::nullopt, cap, 60s), with_timeout(30s));
    EXPECT_EQ(d.times.earliest_release, d.times.drain_deadline) << "the deadline wins";
    EXPECT_EQ(d.times.drain_deadline, cap ? kStart + *cap : kStart + 22500ms);
  }
  DrainSettings daemon = with_timeout(30s);
  daemon.max_hold = 3000ms;
  daemon.default_min_drain = 10s;
  StopDrain d = drain_for_signalled_stop(kStart, LabelSettings{}, daemon);
  EXPECT_EQ(d.times.drain_deadline, kStart + 3s) << "max-hold caps the deadline";
  EXPECT_EQ(d.times.earliest_release, kStart + 3s) << "and the min-drain with it";
}

TEST(StopDrain, TheLabelMinDrainWinsOverTheDaemonDefault) {
  DrainSettings daemon = with_timeout(30s);
  daemon.default_min_drain = 5000ms;
  EXPECT_EQ(drain_for_signalled_stop(kStart, LabelSettings{}, daemon).times.earliest_release, kStart + 5s);
  EXPECT_EQ(drain_for_signalled_stop(kStart, drain_labels(std::nullopt, std::nullopt, 2000ms), daemon).times.earliest_release,
            kStart + 2s);
  EXPECT_EQ(drain_for_signalled_stop(kStart, drain_labels(std::nullopt, std::nullopt, 0ms), daemon).times.earliest_release,
            Clock::time_point{})
      << "a label of 0 turns the default off";
}

TEST(StopDrain, MaxDrainIsFlooredAtTheQuietWindow) {
  // A drain always waits one quiet window for late traffic, however small the max-drain label.
  for (auto max_drain : {0ms, 200ms, 999ms}) {
    LabelSettings labels = drain_labels(std::nullopt, max_drain, std::nullopt);
    EXPECT_EQ(safe_stop_drain(labels, with_timeout(30s)).times.drain_deadline, kStart + 1s) << max_drain.count();
    EXPECT_EQ(drain_for_signalled_stop(kStart, labels, with_timeout(30s)).times.drain_deadline, kStart + 1s) << max_drain.count();
  }
  EXPECT_EQ(safe_stop_drain(drain_labels(3000ms, 200ms, std::nullopt), with_timeout(30s)).times.drain_deadline, kStart + 3s)
      << "the quiet label is the floor";
  EXPECT_EQ(safe_stop_drain(drain_labels(std::nullopt, 5000ms, std::nullopt), with_timeout(30s)).times.drain_deadline,
            kStart + 5s);
}

TEST(StopDrain, MaxHoldIsAHardCapOnlyTheDaemonHas) {
  DrainSettings daemon = with_timeout(30s);
  daemon.max_hold = 500ms;
  EXPECT_EQ(drain_for_signalled_stop(kStart, LabelSettings{}, daemon).times.drain_deadline, kStart + 500ms)
      << "the operator's bound on a held signal is not floored at the quiet window";
  daemon.max_hold = 8000ms;
  EXPECT_EQ(drain_for_signalled_stop(kStart, drain_labels(std::nullopt, 5000ms, std::nullopt), daemon).times.drain_deadline,
            kStart + 5s) << "the smaller of max-drain and max-hold";
  EXPECT_EQ(drain_for_signalled_stop(kStart, drain_labels(std::nullopt, 12000ms, std::nullopt), daemon).times.drain_deadline,
            kStart + 8s);
}

TEST(StopDrain, AGracePeriodShorterThanTheDefaultSetsTheDeadline) {
  // A 5 s grace period (shorter than the default 10 s): reserve 1.25 s, deadline 3.75 s, SIGKILL at 5 s.
  for (const StopDrain& d : {safe_stop_drain(LabelSettings{}, with_timeout(5s)),
                             drain_for_signalled_stop(kStart, LabelSettings{}, with_timeout(5s))}) {
    EXPECT_EQ(d.times.drain_deadline, kStart + 3750ms);
    EXPECT_EQ(d.times.kill_at, kStart + 5s);
    EXPECT_EQ(d.quiet, kDefaultQuiet);
    EXPECT_EQ(d.times.earliest_release, Clock::time_point{}) << "no min-drain unless asked";
  }
  EXPECT_EQ(safe_stop_drain(LabelSettings{}, DrainSettings{}).times.kill_at, kStart + kDefaultStopTimeout);
}

TEST(StopDrain, TheCallersQuietWinsOverTheLabel) {
  DrainSettings s = with_timeout(30s);
  s.quiet = 250ms;
  EXPECT_EQ(safe_stop_drain(drain_labels(3000ms, std::nullopt, std::nullopt), s).quiet, 250ms);
  EXPECT_EQ(safe_stop_drain(drain_labels(3000ms, std::nullopt, std::nullopt), with_timeout(30s)).quiet, 3000ms);
  EXPECT_EQ(quiet_window(LabelSettings{}, std::nullopt), kDefaultQuiet);
}

TEST(StopDrain, ATimeoutWithNoRoomIsRefusedBySafeStopAndDrainsTheQuietWindowUnderTheDaemon) {
  auto refused = drain_for_stop(kStart, LabelSettings{}, with_timeout(1500ms));
  ASSERT_FALSE(refused.ok());
  EXPECT_NE(refused.error().message.find("1500 ms"), std::string::npos) << refused.error().message;
  // The daemon cannot refuse: the runtime already sent its signal.
  StopDrain d = drain_for_signalled_stop(kStart, drain_labels(std::nullopt, std::nullopt, 5000ms), with_timeout(1500ms));
  EXPECT_EQ(d.times.drain_deadline, kStart + 1s);
  EXPECT_EQ(d.times.kill_at, kStart + 1500ms);
  EXPECT_EQ(d.times.earliest_release, kStart + 1s) << "min-drain still capped at the deadline";
}

}  // namespace
}  // namespace sigdrain

namespace sigdrain {
namespace {

using namespace std::chrono_literals;

TEST(StopTimeout, TheCallersThenTheContainersThenTheFallback) {
  EXPECT_EQ(stop_timeout(2500ms, 30, 10s), 2500ms) << "safe-stop --timeout wins";
  EXPECT_EQ(stop_timeout(std::nullopt, 30, 10s), 30s) << "the runtime's StopTimeout, the pod's grace period";
  EXPECT_EQ(stop_timeout(std::nullopt, std::nullopt, 10s), 10s);
}

TEST(ActivityClock, TheFirstSampleCountsAsActivity) {
  const Clock::time_point t0 = Clock::time_point(1h);
  ActivityClock clock;
  EXPECT_EQ(clock.seen(41, t0), t0) << "when the count last moved is unknown: as if now";
  EXPECT_EQ(clock.seen(0, t0 + 5ms), t0 + 5ms) << "any change counts, also one that looks backwards";
}

TEST(ActivityClock, AMovedCountIsActivityAtTheSampleThatSawIt) {
  const Clock::time_point t0 = Clock::time_point(1h);
  ActivityClock clock;
  clock.seen(7, t0);
  EXPECT_EQ(clock.seen(7, t0 + 20ms), t0) << "unchanged: the time it last moved";
  EXPECT_EQ(clock.seen(9, t0 + 40ms), t0 + 40ms);
  EXPECT_EQ(clock.seen(9, t0 + 900ms), t0 + 40ms);
}

// The tracker with the clock in front, as the daemon and safe-stop sample: the quiet window runs from the first
// sample after the last data, never from before it.
TEST(ActivityClock, TheQuietWindowCountsFromTheSampleAfterTheLastData) {
  const Clock::time_point start = Clock::time_point(1h);
  DrainTimes times{start, start + 10s, start + 12s};
  DrainTracker tracker(times, 100ms, 0);
  ActivityClock clock;
  auto sample = [&](std::chrono::milliseconds at, uint64_t activity, int64_t inflight) {
    return tracker.update(DrainSample{start + at, inflight, 1, 0, clock.seen(activity, start + at)});
  };
  EXPECT_EQ(sample(0ms, 3, 1), DrainState::draining);
  EXPECT_EQ(sample(20ms, 5, 0), DrainState::draining) << "the answer went out between 0 and 20 ms";
  EXPECT_EQ(sample(110ms, 5, 0), DrainState::draining) << "100 ms after the answer, but not after the sample";
  EXPECT_EQ(sample(120ms, 5, 0), DrainState::idle);
  EXPECT_EQ(sample(140ms, 6, 0), DrainState::draining) << "new data: draining again";
}

}  // namespace
}  // namespace sigdrain

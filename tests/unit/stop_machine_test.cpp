// The one stop engine, driven step by step with a clock that jumps: what it answers in each phase, and the outcome
// rule. safe-stop's loop over it is tested in stop_session_test.cpp, the daemon's in stop_runner_test.cpp.
#include <csignal>

#include <gtest/gtest.h>

#include "stop/stop_machine.hpp"

namespace sigdrain {
namespace {

using namespace std::chrono_literals;
using Kind = StopAction::Kind;

const Clock::time_point kStart{std::chrono::seconds(1000)};

StopMachineSettings settings_for(std::string plan_text, KillAtTimeout kill = KillAtTimeout::sigdrain_kills) {
  StopMachineSettings s;
  auto steps = parse_plan(plan_text);
  EXPECT_TRUE(steps.ok());
  s.plan = StopPlan{PlanProfile::command_line, "test", steps.ok() ? steps.value() : std::vector<PlanStep>{}};
  auto times = plan_drain(kStart, 10s, 1000ms);
  EXPECT_TRUE(times.ok());
  s.times = times.value();
  s.quiet = 1000ms;
  s.kill = kill;
  return s;
}

DrainSample idle_at(Clock::time_point now) { return DrainSample{now, 0, 0, 0, kStart}; }
DrainSample busy_at(Clock::time_point now) { return DrainSample{now, 1, 1, 0, now}; }

SentSignal sent_signal(int signo) { return SentSignal{signo, 1000, "app", "init", 0, ""}; }

TEST(StopMachine, WaitsBetweenSamplesThenReleasesWhenIdleAndSendsThePlan) {
  StopMachine m(settings_for("SIGINT@init"));
  StopAction a = m.next(kStart, idle_at(kStart));
  EXPECT_EQ(a.kind, Kind::wait);
  EXPECT_EQ(a.until, kStart + 20ms) << "sample_every while draining";
  EXPECT_EQ(m.next(kStart + 1000ms, idle_at(kStart + 1000ms)).kind, Kind::release) << "one quiet window from the start";
  EXPECT_EQ(m.report().released_by, ReleasedBy::idle);
  EXPECT_EQ(m.report().drain_ms, 1000);
  a = m.next(kStart + 1000ms);
  ASSERT_EQ(a.kind, Kind::send);
  EXPECT_EQ(a.step->signo, SIGINT);
  EXPECT_FALSE(m.plan_done());
  m.sent(kStart + 1001ms, {sent_signal(SIGINT)});
  a = m.next(kStart + 1001ms);
  EXPECT_EQ(a.kind, Kind::wait);
  EXPECT_EQ(a.until, m.times().kill_at) << "awaits the exit until the kill time";
  EXPECT_TRUE(m.plan_done());
  m.exited(kStart + 1301ms, ExitStatus{0, std::nullopt});
  EXPECT_EQ(m.next(kStart + 1301ms).kind, Kind::done);
  EXPECT_EQ(m.report().outcome, StopOutcome::graceful);
  EXPECT_EQ(m.report().exit_ms_after_signal, 300);
  EXPECT_EQ(m.report().total_ms, 1301);
}

TEST(StopMachine, BusyDrainEndsAtTheDeadlineWithTheLastSampleInTheReport) {
  StopMachine m(settings_for("SIGTERM@init"));
  Clock::time_point t = kStart;
  StopAction a;
  int samples = 0;
  for (a = m.next(t, busy_at(t)); a.kind == Kind::wait; a = m.next(t, busy_at(t))) {
    EXPECT_LE(a.until, m.times().drain_deadline) << "never waits past the deadline";
    t = a.until;
    ++samples;
  }
  EXPECT_EQ(a.kind, Kind::release);
  EXPECT_EQ(t, m.times().drain_deadline);
  EXPECT_GT(samples, 100);
  EXPECT_EQ(m.report().released_by, ReleasedBy::deadline);
  EXPECT_EQ(m.report().inflight_at_release, 1);
  EXPECT_EQ(m.report().open_inbound_at_release, 1);
}

TEST(StopMachine, WithoutASampleOnlyTheDeadlineEndsTheDrain) {
  StopMachine m(settings_for("SIGTERM@init"));
  EXPECT_EQ(m.next(kStart + 5s).kind, Kind::wait) << "idle cannot be judged without a sample";
  EXPECT_EQ(m.next(m.times().drain_deadline).kind, Kind::release);
  EXPECT_EQ(m.report().released_by, ReleasedBy::deadline);
}

TEST(StopMachine, PausesInThePlanAreWaitsAndStepsGoInOrder) {
  StopMachine m(settings_for("SIGTERM@init, 500ms, SIGINT@name:uwsgi"));
  ASSERT_EQ(m.next(kStart + 1s, idle_at(kStart + 1s)).kind, Kind::release);
  StopAction a = m.next(kStart + 1s);
  ASSERT_EQ(a.kind, Kind::send);
  EXPECT_EQ(a.step->signo, SIGTERM);
  m.sent(kStart + 1s, {sent_signal(SIGTERM)});
  a = m.next(kStart + 1s);
  ASSERT_EQ(a.kind, Kind::wait);
  EXPECT_EQ(a.until, kStart + 1500ms);
  EXPECT_EQ(m.next(kStart + 1499ms).kind, Kind::wait);
  a = m.next(kStart + 1500ms);
  ASSERT_EQ(a.kind, Kind::send);
  EXPECT_EQ(a.step->signo, SIGINT);
}

TEST(StopMachine, SigdrainKillsAtTheTimeoutAndThatIsKilled) {
  StopMachine m(settings_for("SIGTERM@init"));
  ASSERT_EQ(m.next(m.times().drain_deadline).kind, Kind::release);
  ASSERT_EQ(m.next(m.times().drain_deadline).kind, Kind::send);
  m.sent(m.times().drain_deadline, {sent_signal(SIGTERM)});
  EXPECT_EQ(m.next(m.times().kill_at - 1ms).kind, Kind::wait);
  ASSERT_EQ(m.next(m.times().kill_at).kind, Kind::kill);
  m.sent(m.times().kill_at, {sent_signal(SIGKILL)});
  m.exited(m.times().kill_at + 10ms, ExitStatus{std::nullopt, SIGKILL});
  EXPECT_EQ(m.next(m.times().kill_at + 10ms).kind, Kind::done);
  EXPECT_EQ(m.report().outcome, StopOutcome::killed) << "the plan's last SIGKILL is sigdrain's timeout kill";
}

TEST(StopMachine, AKillThatIsNotSeenEndsKilledAfterTheGrace) {
  StopMachine m(settings_for("SIGTERM@init"));
  (void)m.next(m.times().drain_deadline);
  (void)m.next(m.times().drain_deadline);
  m.sent(m.times().drain_deadline, {sent_signal(SIGTERM)});
  ASSERT_EQ(m.next(m.times().kill_at).kind, Kind::kill);
  m.sent(m.times().kill_at, {sent_signal(SIGKILL)});
  StopAction a = m.next(m.times().kill_at + 1s);
  ASSERT_EQ(a.kind, Kind::wait);
  EXPECT_EQ(a.until, m.times().kill_at + 5s);
  EXPECT_EQ(m.next(m.times().kill_at + 5s).kind, Kind::done);
  EXPECT_EQ(m.report().outcome, StopOutcome::killed);
}

TEST(StopMachine, TheRuntimeKillsNeverSigdrainAndNoExitSeenIsUnknown) {
  StopMachine m(settings_for("SIGTERM@init", KillAtTimeout::runtime_kills));
  (void)m.next(m.times().drain_deadline);
  (void)m.next(m.times().drain_deadline);
  m.sent(m.times().drain_deadline, {sent_signal(SIGTERM)});
  StopAction a = m.next(m.times().kill_at);
  ASSERT_EQ(a.kind, Kind::wait) << "no kill action: the runtime sends its own SIGKILL";
  EXPECT_EQ(a.until, m.times().kill_at + 5s);
  EXPECT_EQ(m.next(m.times().kill_at + 5s).kind, Kind::done);
  EXPECT_EQ(m.report().outcome, StopOutcome::unknown);
}

TEST(StopMachine, SomeoneElsesSigkillIsKilledAPlannedOneIsGraceful) {
  {
    StopMachine m(settings_for("SIGTERM@init", KillAtTimeout::runtime_kills));
    (void)m.next(kStart + 1s, idle_at(kStart + 1s));
    (void)m.next(kStart + 1s);
    m.sent(kStart + 1s, {sent_signal(SIGTERM)});
    m.exited(kStart + 2s, ExitStatus{std::nullopt, SIGKILL});
    EXPECT_EQ(m.report().outcome, StopOutcome::killed) << "e.g. `podman rm -f` meanwhile";
  }
  {
    StopMachine m(settings_for("SIGKILL@init"));
    (void)m.next(kStart + 1s, idle_at(kStart + 1s));
    (void)m.next(kStart + 1s);
    m.sent(kStart + 1s, {sent_signal(SIGKILL)});
    m.exited(kStart + 1s, ExitStatus{std::nullopt, SIGKILL});
    EXPECT_EQ(m.report().outcome, StopOutcome::graceful) << "the no-handler plan: SIGKILL once drained";
  }
}

TEST(StopMachine, ExitDuringTheDrainEndsItSendsNothingAndCauseUnknownIsUnknown) {
  StopMachine m(settings_for("SIGTERM@init"));
  (void)m.next(kStart + 100ms, busy_at(kStart + 100ms));
  m.exited(kStart + 500ms, std::nullopt);
  EXPECT_EQ(m.next(kStart + 500ms).kind, Kind::done);
  EXPECT_EQ(m.report().released_by, ReleasedBy::exited);
  EXPECT_EQ(m.report().drain_ms, 500);
  EXPECT_EQ(m.report().inflight_at_release, 1);
  EXPECT_TRUE(m.report().sent.empty());
  EXPECT_EQ(m.report().outcome, StopOutcome::unknown) << "the init's exit was seen, its cause was not";
  EXPECT_FALSE(m.report().exit_ms_after_signal);
}

TEST(StopMachine, AbandonedWhileDrainingRecordsTheDrainAndIsDone) {
  StopMachine m(settings_for("SIGTERM@init"));
  (void)m.next(kStart + 100ms, busy_at(kStart + 100ms));
  m.abandon(kStart + 700ms);
  EXPECT_EQ(m.report().drain_ms, 700);
  EXPECT_EQ(m.next(kStart + 800ms).kind, Kind::done);
  m.exited(kStart + 900ms, ExitStatus{0, std::nullopt});
  EXPECT_EQ(m.report().outcome, StopOutcome::unknown) << "nothing changes once done";
}

TEST(StopMachine, CountsRequestsCompletedFromItsStart) {
  StopMachineSettings s = settings_for("SIGTERM@init");
  s.requests_completed_at_start = 40;
  StopMachine m(s);
  (void)m.next(kStart + 100ms, DrainSample{kStart + 100ms, 0, 0, 47, kStart + 100ms});
  ASSERT_EQ(m.next(kStart + 1100ms, DrainSample{kStart + 1100ms, 0, 0, 47, kStart + 100ms}).kind, Kind::release);
  EXPECT_EQ(m.report().requests_completed, 7u);
}

}  // namespace
}  // namespace sigdrain

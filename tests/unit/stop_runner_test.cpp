// The daemon's stop path without a node: StopRunner against a fake StopHost with a clock that jumps. What is
// released and when, what the plan sends, what the journal and the metrics see, and how a stop ends.
#include <csignal>

#include <gtest/gtest.h>

#include "process_facts_fixture.hpp"

#include "daemon/stop_runner.hpp"

namespace sigdrain {
namespace {

using namespace std::chrono_literals;
using testing_support::process_named;

class FakeHost : public StopHost {
 public:
  Clock::time_point clock{std::chrono::seconds(1000)};
  int64_t inflight = 0;
  Clock::time_point last_activity = clock;
  std::vector<ProcessFacts> procs = {process_named(1000, 1, "uwsgi")};
  std::vector<std::tuple<std::string, pid_t, int>> sent;
  std::vector<std::pair<std::string, bool>> released;  // container id, held
  std::vector<HoldRecord> forgotten;
  bool gone = false;
  std::vector<StopReport> ended;

  Clock::time_point now() override { return clock; }
  DrainSample drain_sample(const ContainerInfo&) override {
    if (inflight > 0) last_activity = clock;
    return DrainSample{clock, inflight, 2, 0, last_activity};
  }
  std::vector<ProcessFacts> processes(const ContainerInfo&) override { return procs; }
  std::vector<pid_t> listener_pids(const ContainerInfo&) override { return {}; }
  Result<void> send(const ContainerInfo& info, pid_t pid, int signo) override {
    sent.emplace_back(info.id, pid, signo);
    return {};
  }
  void release_hold(const ContainerInfo& info, bool held) override { released.emplace_back(info.id, held); }
  void forget_held(const std::vector<HoldRecord>& records) override {
    forgotten.insert(forgotten.end(), records.begin(), records.end());
  }
  bool init_gone_unseen(const ContainerInfo&) override { return gone; }
  void stop_ended(const StopReport& report) override { ended.push_back(report); }

  // Ticks every 10 ms, as the daemon's loop does while a stop runs, until `until`.
  void run(StopRunner& runner, Clock::time_point until) {
    while (clock < until) {
      runner.tick();
      clock += 10ms;
    }
  }
};

ContainerInfo container(std::string id = "c1") {
  ContainerInfo info;
  info.id = id;
  info.name = "app-" + id;
  info.runtime = Runtime::podman;
  info.init_pid = 1000;
  return info;
}

StopDrain drain_at(Clock::time_point start) {
  auto times = plan_drain(start, 10s, 1000ms);
  EXPECT_TRUE(times.ok());
  return StopDrain{times.value(), 1000ms};
}

HoldRecord record_for(const ContainerInfo& info) { return HoldRecord{info.id, info.init_pid, 77, SIGTERM, 0, 0, 0}; }

TEST(StopRunner, HeldStopDrainsReleasesSendsThePlanAndEndsAtTheExit) {
  FakeHost host;
  metrics::DaemonMetrics metrics;
  StopRunner runner(host, metrics);
  const ContainerInfo info = container();
  host.inflight = 1;
  runner.start(info, SIGTERM, true, drain_at(host.clock));
  runner.add_record(info.id, record_for(info));
  EXPECT_TRUE(runner.draining(info.id));
  EXPECT_EQ(runner.drains_in_progress(), 1);
  host.run(runner, host.clock + 2s);
  EXPECT_TRUE(host.released.empty()) << "busy: still held";
  EXPECT_TRUE(host.sent.empty());
  host.inflight = 0;
  host.run(runner, host.clock + 1100ms);
  ASSERT_EQ(host.released.size(), 1u);
  EXPECT_EQ(host.released[0], std::make_pair(info.id, true));
  ASSERT_EQ(host.sent.size(), 1u);
  EXPECT_EQ(std::get<1>(host.sent[0]), 1000);
  EXPECT_EQ(std::get<2>(host.sent[0]), SIGINT) << "uWSGI stops gracefully on SIGINT, not the runtime's SIGTERM";
  ASSERT_EQ(host.forgotten.size(), 1u) << "the plan replaced the held signal: the journal lets it go";
  EXPECT_EQ(runner.drains_in_progress(), 0);
  EXPECT_TRUE(runner.stopping(info.id)) << "awaits the exit";
  EXPECT_FALSE(runner.draining(info.id));
  runner.exited(info.id, ExitStatus{0, std::nullopt});
  EXPECT_FALSE(runner.stopping(info.id));
  ASSERT_EQ(host.ended.size(), 1u);
  const StopReport& r = host.ended[0];
  EXPECT_EQ(r.container_id, "c1");
  EXPECT_EQ(r.runtime, "podman");
  EXPECT_EQ(r.released_by, ReleasedBy::idle);
  EXPECT_GE(r.drain_ms, 2980) << "the last request seen at 1990 ms, then one quiet window";
  EXPECT_LE(r.drain_ms, 3030);
  EXPECT_EQ(r.outcome, StopOutcome::graceful);
  EXPECT_EQ(host.forgotten.size(), 1u) << "forgotten once";
  std::string text = metrics.render();
  EXPECT_NE(text.find("sigdrain_releases_total{reason=\"idle\"} 1"), std::string::npos) << text;
  EXPECT_NE(text.find("sigdrain_stops_total{outcome=\"graceful\"} 1"), std::string::npos) << text;
}

TEST(StopRunner, ATakenOverStopCountsAsReleasedByTheRestart) {
  FakeHost host;
  metrics::DaemonMetrics metrics;
  StopRunner runner(host, metrics);
  runner.start(container(), SIGTERM, true, drain_at(host.clock), /*resumed=*/true);
  host.run(runner, host.clock + 1100ms);
  ASSERT_EQ(host.released.size(), 1u);
  EXPECT_NE(metrics.render().find("sigdrain_releases_total{reason=\"daemon_restart\"} 1"), std::string::npos) << metrics.render();
}

TEST(StopRunner, NoExitByTheRuntimesKillAndItsGraceIsUnknownAndNothingIsSentBySigdrain) {
  FakeHost host;
  metrics::DaemonMetrics metrics;
  StopRunner runner(host, metrics);
  StopDrain drain = drain_at(host.clock);
  runner.start(container(), SIGTERM, true, drain);
  host.run(runner, drain.times.kill_at + 4900ms);
  EXPECT_TRUE(runner.stopping("c1"));
  host.run(runner, drain.times.kill_at + 5100ms);
  EXPECT_FALSE(runner.stopping("c1"));
  ASSERT_EQ(host.ended.size(), 1u);
  EXPECT_EQ(host.ended[0].outcome, StopOutcome::unknown);
  for (const auto& s : host.sent) EXPECT_NE(std::get<2>(s), SIGKILL) << "the runtime sends its own SIGKILL";
}

TEST(StopRunner, AnInitGoneWithoutItsExitEventEndsTheStopAsUnknown) {
  FakeHost host;
  metrics::DaemonMetrics metrics;
  StopRunner runner(host, metrics);
  host.inflight = 1;
  runner.start(container(), SIGTERM, true, drain_at(host.clock));
  host.run(runner, host.clock + 200ms);
  host.gone = true;
  runner.tick();
  ASSERT_EQ(host.ended.size(), 1u);
  EXPECT_EQ(host.ended[0].released_by, ReleasedBy::exited);
  EXPECT_EQ(host.ended[0].outcome, StopOutcome::unknown);
  EXPECT_TRUE(host.released.empty()) << "nothing left to release: the init is gone";
  EXPECT_NE(metrics.render().find("sigdrain_releases_total{reason=\"exited\"} 1"), std::string::npos);
}

TEST(StopRunner, SomeoneElsesSigkillDuringTheDrainIsKilled) {
  FakeHost host;
  metrics::DaemonMetrics metrics;
  StopRunner runner(host, metrics);
  host.inflight = 1;
  runner.start(container(), SIGTERM, true, drain_at(host.clock));
  host.run(runner, host.clock + 500ms);
  runner.exited("c1", ExitStatus{std::nullopt, SIGKILL});
  ASSERT_EQ(host.ended.size(), 1u);
  EXPECT_EQ(host.ended[0].outcome, StopOutcome::killed);
  EXPECT_EQ(host.ended[0].released_by, ReleasedBy::exited);
}

TEST(StopRunner, FinishingWaitsForPlansAndTheirExitsThenEndsTheRest) {
  FakeHost host;
  metrics::DaemonMetrics metrics;
  StopRunner runner(host, metrics);
  runner.start(container("a"), SIGTERM, true, drain_at(host.clock));
  host.inflight = 1;
  host.run(runner, host.clock + 100ms);
  EXPECT_FALSE(runner.plans_done_and_waited());
  host.inflight = 0;
  host.run(runner, host.clock + 1000ms);
  ASSERT_EQ(runner.drains_in_progress(), 0);
  EXPECT_FALSE(runner.plans_done_and_waited()) << "its container may exit in a moment";
  host.run(runner, host.clock + 2000ms);
  EXPECT_TRUE(runner.plans_done_and_waited());
  runner.end_awaiting_exit();
  EXPECT_TRUE(runner.empty());
  ASSERT_EQ(host.ended.size(), 1u);
  EXPECT_EQ(host.ended[0].outcome, StopOutcome::unknown);
}

TEST(StopRunner, AbandonedDrainsAreReturnedForDeliveryAndTheirRecordsForgotten) {
  FakeHost host;
  metrics::DaemonMetrics metrics;
  StopRunner runner(host, metrics);
  host.inflight = 1;
  runner.start(container("a"), SIGTERM, true, drain_at(host.clock));
  runner.add_record("a", record_for(container("a")));
  runner.start(container("b"), SIGINT, false, drain_at(host.clock));
  host.run(runner, host.clock + 300ms);
  auto cut = runner.abandon_draining();
  ASSERT_EQ(cut.size(), 2u);
  EXPECT_EQ(cut[0]->info.id, "a");
  EXPECT_TRUE(cut[0]->held);
  EXPECT_EQ(cut[0]->signo, SIGTERM);
  EXPECT_EQ(cut[1]->signo, SIGINT);
  EXPECT_TRUE(host.sent.empty()) << "the caller delivers what was held";
  runner.forget_all_held();
  EXPECT_EQ(host.forgotten.size(), 1u);
  EXPECT_NE(metrics.render().find("sigdrain_releases_total{reason=\"daemon_restart\"} 2"), std::string::npos) << metrics.render();
}

}  // namespace
}  // namespace sigdrain

// The safe-stop sequence against a scripted environment: drain until idle or the deadline, the plan's signals
// to the right processes, SIGKILL only at the timeout.
#include <csignal>
#include <deque>

#include <gtest/gtest.h>

#include "process_facts_fixture.hpp"

#include "stop/stop_session.hpp"

namespace sigdrain {
namespace {

using testing_support::process_named;

using namespace std::chrono_literals;

class FakeEnvironment : public StopEnvironment {
 public:
  Clock::time_point clock{std::chrono::seconds(1000)};
  // In flight as a function of time since start; the app's last activity follows it.
  std::function<int64_t(std::chrono::milliseconds)> inflight = [](auto) { return 0; };
  std::vector<ProcessFacts> procs;
  std::vector<std::pair<pid_t, int>> sent;
  // Which signal makes the init exit, and after how long.
  std::map<int, std::chrono::milliseconds> exits_after;
  std::optional<Clock::time_point> exit_at;
  Clock::time_point start = clock;
  Clock::time_point last_activity = clock;

  Clock::time_point now() override { return clock; }
  DrainSample sample() override {
    int64_t n = inflight(std::chrono::duration_cast<std::chrono::milliseconds>(clock - start));
    if (n > 0) last_activity = clock;
    return DrainSample{clock, n, 3, 7, last_activity};
  }
  std::vector<ProcessFacts> processes() override { return procs; }
  std::vector<pid_t> listener_pids() override { return {}; }
  Result<void> send(pid_t pid, int signo) override {
    sent.emplace_back(pid, signo);
    if (pid == 1000 && exits_after.contains(signo) && !exit_at) exit_at = clock + exits_after[signo];
    if (pid == 1000 && signo == SIGKILL && !exit_at) exit_at = clock;
    return {};
  }
  bool pause_until(Clock::time_point until) override {
    if (exit_at && *exit_at <= until) {
      clock = std::max(clock, *exit_at);
      return true;
    }
    clock = std::max(clock, until);
    return false;
  }
  std::optional<ExitStatus> exit_status() override {
    if (!exit_at) return std::nullopt;
    bool killed = !sent.empty() && sent.back().second == SIGKILL;
    return killed ? ExitStatus{std::nullopt, SIGKILL} : ExitStatus{0, std::nullopt};
  }
  void progress(const DrainSample&, const DrainTimes&) override {}
};

StopPlan plan_of(std::string text, PlanProfile profile = PlanProfile::command_line) {
  auto steps = parse_plan(text);
  EXPECT_TRUE(steps.ok());
  return StopPlan{profile, "test", steps.ok() ? steps.value() : std::vector<PlanStep>{}};
}

DrainTimes times_for(const FakeEnvironment& env, std::chrono::milliseconds timeout, std::chrono::milliseconds quiet) {
  auto t = plan_drain(env.clock, timeout, quiet);
  EXPECT_TRUE(t.ok());
  return t.value();
}

TEST(StopSession, DrainsUntilIdleThenSignalsAndEndsGracefully) {
  FakeEnvironment env;
  env.procs = {process_named(1000, 1, "uwsgi"), process_named(1001, 1000, "uwsgi")};
  env.inflight = [](std::chrono::milliseconds t) { return t < 2000ms ? 2 : 0; };
  env.exits_after[SIGINT] = 300ms;
  StopReport r = run_stop(env, plan_of("SIGINT@init", PlanProfile::uwsgi), times_for(env, 10s, 1000ms), 1000ms, 1000);
  EXPECT_EQ(r.released_by, ReleasedBy::idle);
  EXPECT_GE(r.drain_ms, 2980) << "quiet for 1 s after the last request seen at 1980 ms";
  EXPECT_LE(r.drain_ms, 3020);
  ASSERT_EQ(env.sent.size(), 1u);
  EXPECT_EQ(env.sent[0], std::make_pair(pid_t{1000}, SIGINT));
  EXPECT_EQ(r.outcome, StopOutcome::graceful);
  EXPECT_EQ(r.exit.code, 0);
  EXPECT_EQ(r.exit_ms_after_signal, 300);
  auto j = to_json(r);
  EXPECT_EQ(j["plan"]["profile"], "uwsgi");
  EXPECT_EQ(j["plan"]["steps"], "SIGINT@init");
  EXPECT_EQ(j["sent"][0]["signal"], "SIGINT");
  EXPECT_EQ(j["sent"][0]["comm"], "uwsgi");
  EXPECT_EQ(j["drain"]["released_by"], "idle");
  EXPECT_EQ(j["exit"]["outcome"], "graceful");
  EXPECT_TRUE(j["exit"]["killed_by"].is_null());
}

TEST(StopSession, BusyForeverIsReleasedAtTheDrainDeadlineAndKilledOnlyAtTheTimeout) {
  FakeEnvironment env;
  env.procs = {process_named(1000, 1, "python3")};
  env.inflight = [](auto) { return 1; };
  DrainTimes times = times_for(env, 10s, 1000ms);
  StopReport r = run_stop(env, plan_of("SIGTERM@init", PlanProfile::runtime_signal), times, 1000ms, 1000);
  EXPECT_EQ(r.released_by, ReleasedBy::deadline);
  EXPECT_EQ(env.clock - env.start >= 10s, true);
  ASSERT_EQ(env.sent.size(), 2u);
  EXPECT_EQ(env.sent[0].second, SIGTERM);
  EXPECT_EQ(env.sent[1].second, SIGKILL);
  EXPECT_EQ(r.outcome, StopOutcome::killed);
  EXPECT_EQ(to_json(r)["exit"]["killed_by"], "SIGKILL");
  EXPECT_LT(times.drain_deadline, times.kill_at) << "the app gets a reserve for its own shutdown";
}

TEST(StopSession, PlannedSigkillOnceDrainedIsGraceful) {
  FakeEnvironment env;
  env.procs = {process_named(1000, 1, "python3")};
  StopReport r = run_stop(env, plan_of("SIGKILL@init", PlanProfile::no_handler), times_for(env, 10s, 1000ms), 1000ms, 1000);
  EXPECT_EQ(r.released_by, ReleasedBy::idle);
  EXPECT_EQ(r.outcome, StopOutcome::graceful);
  EXPECT_LE(r.total_ms, 1100) << "no load: released after the quiet window only";
}

TEST(StopSession, SupervisordPlanPausesThenSignalsTheMasterOnly) {
  FakeEnvironment env;
  env.procs = {process_named(1000, 1, "supervisord"), process_named(1010, 1000, "uwsgi"), process_named(1011, 1010, "uwsgi"), process_named(1012, 1010, "uwsgi")};
  env.exits_after[SIGTERM] = 2000ms;  // supervisord exits once its child is gone; modelled as a delay
  StopReport r = run_stop(env, plan_of("SIGTERM@init, 500ms, SIGINT@name:uwsgi", PlanProfile::supervisord), times_for(env, 10s, 1000ms),
                          1000ms, 1000);
  ASSERT_EQ(env.sent.size(), 2u);
  EXPECT_EQ(env.sent[0], std::make_pair(pid_t{1000}, SIGTERM));
  EXPECT_EQ(env.sent[1], std::make_pair(pid_t{1010}, SIGINT));
  EXPECT_EQ(r.sent[1].at_ms - r.sent[0].at_ms, 500);
  EXPECT_EQ(r.outcome, StopOutcome::graceful);
}

TEST(StopSession, ExitDuringTheDrainSendsNothing) {
  FakeEnvironment env;
  env.procs = {process_named(1000, 1, "python3")};
  env.inflight = [](auto) { return 1; };
  env.exit_at = env.clock + 500ms;
  StopReport r = run_stop(env, plan_of("SIGTERM@init"), times_for(env, 10s, 1000ms), 1000ms, 1000);
  EXPECT_EQ(r.released_by, ReleasedBy::exited);
  EXPECT_TRUE(env.sent.empty());
  EXPECT_EQ(r.outcome, StopOutcome::graceful);
}

// The names are the stop record's JSON values and the metrics' labels: fixed, one per value.
TEST(StopOutcomeNames, AreTheRecordsValues) {
  std::vector<std::string_view> released;
  for (ReleasedBy by : kReleasedByValues) released.push_back(released_by_name(by));
  EXPECT_EQ(released, (std::vector<std::string_view>{"idle", "deadline", "exited"}));
  std::vector<std::string_view> outcomes;
  for (StopOutcome outcome : kStopOutcomeValues) outcomes.push_back(stop_outcome_name(outcome));
  EXPECT_EQ(outcomes, (std::vector<std::string_view>{"graceful", "killed", "unknown"}));
}

}  // namespace
}  // namespace sigdrain

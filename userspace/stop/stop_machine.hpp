// One graceful stop as a resumable step machine: drain -> plan -> exit. The one stop engine: `sigdrain safe-stop`
// loops on it (run_stop), the daemon ticks it (StopRunner). Pure: it is fed facts (the time, a drain sample, the
// init's exit, the signals the caller sent) and answers with the next thing to do; it never waits, reads or sends
// anything itself, so a stop can be driven from any loop and tested with a clock that jumps.
#pragma once

#include <chrono>
#include <optional>
#include <vector>

#include "policy/drain.hpp"
#include "policy/plan.hpp"
#include "stop/stop_outcome.hpp"

namespace sigdrain {

struct ExitStatus {
  std::optional<int> code;
  std::optional<int> killed_by;
};

struct SentSignal {
  int signo = 0;
  pid_t pid = 0;
  std::string comm;
  std::string target;  // the plan's target text, e.g. "init", "name:uwsgi"
  int64_t at_ms = 0;   // since the stop started
  std::string error;   // empty when sent
};

struct StopReport {
  std::string container_id, container_name, runtime;
  StopPlan plan;
  int64_t drain_ms = 0;
  ReleasedBy released_by = ReleasedBy::idle;  // set when the drain ends
  uint64_t requests_completed = 0;
  int64_t inflight_at_release = 0;
  int64_t open_inbound_at_release = 0;
  std::vector<SentSignal> sent;
  StopOutcome outcome = StopOutcome::unknown;
  std::optional<int64_t> exit_ms_after_signal;
  ExitStatus exit;
  int64_t total_ms = 0;
};

// Who ends a stop whose container outlives the kill time. safe-stop sends SIGKILL itself; the daemon's stops were
// begun by a runtime, which sends its own SIGKILL then: the daemon only waits a grace for the exit it causes.
enum class KillAtTimeout { sigdrain_kills, runtime_kills };

struct StopMachineSettings {
  StopPlan plan;
  DrainTimes times;
  std::chrono::milliseconds quiet{kDefaultQuiet};
  uint64_t requests_completed_at_start = 0;  // the container's count when the stop began
  KillAtTimeout kill = KillAtTimeout::sigdrain_kills;
  // How long after the kill (sigdrain's SIGKILL, or the kill time with runtime_kills) the exit is waited for
  // before the stop ends without one.
  std::chrono::milliseconds exit_grace{5000};
  // While draining, the longest wait between two samples.
  std::chrono::milliseconds sample_every{20};
};

enum class StopPhase { draining, signalling, awaiting_exit, killing, done };

struct StopAction {
  enum class Kind {
    wait,     // nothing to do before `until` (or the init's exit; while draining, a fresh sample is welcome sooner)
    release,  // the drain ended (report().released_by): let go of the held signal, the plan replaces it
    send,     // send `step`'s signal to its targets, then tell sent()
    kill,     // send SIGKILL to the init (KillAtTimeout::sigdrain_kills only), then tell sent()
    done,     // report() is final
  };
  Kind kind = Kind::wait;
  Clock::time_point until{};
  const PlanStep* step = nullptr;  // send: valid while the machine lives
};

class StopMachine {
 public:
  explicit StopMachine(StopMachineSettings settings);

  // The next action at `now`. While draining, `sample` is the container's drain sample at `now` (none: judge by the
  // last one); in the other phases it is ignored. Call again after carrying out anything but wait and done.
  StopAction next(Clock::time_point now, const std::optional<DrainSample>& sample = std::nullopt);
  // What the caller sent at `now` for the last send or kill action (each with its error, if any).
  void sent(Clock::time_point now, std::vector<SentSignal> signals);
  // The init exited at `now`; `status` is its cause where it was seen. Ends the stop: next() answers done.
  void exited(Clock::time_point now, std::optional<ExitStatus> status);
  // The driver goes away with the stop unfinished (the daemon's second SIGTERM): the drain, if it runs, ends now
  // and the report says how long it ran. next() answers done.
  void abandon(Clock::time_point now);

  StopPhase phase() const { return phase_; }
  bool draining() const { return phase_ == StopPhase::draining; }
  // The plan is carried out (awaiting the exit, or later): nothing held remains to deliver.
  bool plan_done() const { return phase_ != StopPhase::draining && phase_ != StopPhase::signalling; }
  std::optional<Clock::time_point> plan_done_at() const { return plan_done_at_; }
  const DrainTimes& times() const { return settings_.times; }
  uint64_t requests_completed_during_drain() const { return tracker_.requests_completed_during_drain(); }
  // Since the stop's start; with `now` for the milliseconds a signal is sent at.
  int64_t ms_since_start(Clock::time_point now) const;
  const StopReport& report() const { return report_; }
  StopReport& report() { return report_; }  // for the caller's own fields: container, runtime

 private:
  void end_drain(Clock::time_point now, ReleasedBy by, const DrainSample* last);
  void finish(Clock::time_point now, std::optional<ExitStatus> status, bool exit_seen);

  StopMachineSettings settings_;
  DrainTracker tracker_;
  StopPhase phase_ = StopPhase::draining;
  StopReport report_;
  std::optional<DrainSample> last_sample_;
  size_t next_step_ = 0;
  Clock::time_point next_step_at_{};
  std::optional<Clock::time_point> first_signal_at_;
  std::optional<Clock::time_point> plan_done_at_;
  std::optional<Clock::time_point> killed_at_;  // sigdrain's SIGKILL at the timeout went out
};

}  // namespace sigdrain

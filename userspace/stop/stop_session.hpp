// One graceful stop of one container: drain, carry out the stop plan, wait for the exit, SIGKILL at the
// timeout. The sequence is plain logic over a StopEnvironment, which supplies the facts (BPF aggregates,
// processes) and carries out the effects (signals, waiting), so tests drive it with a fake.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "policy/drain.hpp"
#include "policy/plan.hpp"
#include "stop/stop_outcome.hpp"
#include "util/result.hpp"

namespace sigdrain {

struct ExitStatus {
  std::optional<int> code;
  std::optional<int> killed_by;
};

class StopEnvironment {
 public:
  virtual ~StopEnvironment() = default;
  virtual Clock::time_point now() = 0;
  // The container's socket aggregates now.
  virtual DrainSample sample() = 0;
  virtual std::vector<ProcessFacts> processes() = 0;
  virtual std::vector<pid_t> listener_pids() = 0;
  virtual Result<void> send(pid_t pid, int signo) = 0;
  // Waits until the container's init exits (true) or `until` passes (false).
  virtual bool wait_for_exit(Clock::time_point until) = 0;
  // Sleeps until `until` unless the init exits first; returns true when it exited.
  virtual bool pause_until(Clock::time_point until) = 0;
  virtual std::optional<ExitStatus> exit_status() = 0;
  virtual void progress(const DrainSample& sample, const DrainTimes& times) = 0;
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

// Runs the whole stop; `init_pid` is the container's init in the host pid namespace.
StopReport run_stop(StopEnvironment& env, const StopPlan& plan, const DrainTimes& times, std::chrono::milliseconds quiet,
                    pid_t init_pid);

nlohmann::json to_json(const StopReport& report);
std::string human_report(const StopReport& report);

}  // namespace sigdrain

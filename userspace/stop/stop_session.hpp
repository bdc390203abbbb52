// `sigdrain safe-stop`'s loop over the one stop engine (StopMachine): drain, carry out the stop plan, wait for the
// exit, SIGKILL at the timeout. A StopEnvironment supplies the facts (BPF aggregates, processes) and carries out the
// effects (signals, waiting), so tests drive it with a fake.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "policy/drain.hpp"
#include "policy/plan.hpp"
#include "stop/stop_machine.hpp"
#include "util/result.hpp"

namespace sigdrain {

class StopEnvironment {
 public:
  virtual ~StopEnvironment() = default;
  virtual Clock::time_point now() = 0;
  // The container's socket aggregates now.
  virtual DrainSample sample() = 0;
  virtual std::vector<ProcessFacts> processes() = 0;
  virtual std::vector<pid_t> listener_pids() = 0;
  virtual Result<void> send(pid_t pid, int signo) = 0;
  // Sleeps until `until` unless the init exits first; returns true when it exited.
  virtual bool pause_until(Clock::time_point until) = 0;
  virtual std::optional<ExitStatus> exit_status() = 0;
  virtual void progress(const DrainSample& sample, const DrainTimes& times) = 0;
};

// The signals of one plan step: its targets resolved among `processes` (and `listeners` for a listeners target),
// each sent by `send`; `at_ms` is the stop's clock. Shared by safe-stop and the daemon.
std::vector<SentSignal> send_plan_step(const PlanStep& step, const std::vector<ProcessFacts>& processes,
                                       const std::vector<pid_t>& listeners, pid_t init_pid, int64_t at_ms,
                                       const std::function<Result<void>(pid_t, int)>& send);

// Runs the whole stop; `init_pid` is the container's init in the host pid namespace.
StopReport run_stop(StopEnvironment& env, const StopPlan& plan, const DrainTimes& times, std::chrono::milliseconds quiet,
                    pid_t init_pid);

nlohmann::json to_json(const StopReport& report);
std::string human_report(const StopReport& report);

}  // namespace sigdrain

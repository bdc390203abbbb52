// StopEnvironment on a real host: BPF aggregates from the Observer, processes from /proc, signals through
// pidfds (a recycled pid is never hit), the init's exit seen through its pidfd.
#pragma once

#include <memory>
#include <set>
#include <string>

#include "containers/resolver.hpp"
#include "observer/observer.hpp"
#include "proc/proc.hpp"
#include "stop/old_connections.hpp"
#include "stop/stop_session.hpp"
#include "util/fd.hpp"

namespace sigdrain {

class LiveStopEnvironment : public StopEnvironment {
 public:
  // Fails when the init is gone or cannot be opened.
  static Result<std::unique_ptr<LiveStopEnvironment>> make(const ContainerInfo& container, const ProcFs& proc,
                                                           bool show_progress);
  ~LiveStopEnvironment() override;

  Clock::time_point now() override { return Clock::now(); }
  DrainSample sample() override;
  std::vector<ProcessFacts> processes() override;
  std::vector<pid_t> listener_pids() override;
  Result<void> send(pid_t pid, int signo) override;
  bool pause_until(Clock::time_point until) override;
  std::optional<ExitStatus> exit_status() override { return exit_; }
  void progress(const DrainSample& sample, const DrainTimes& times) override;

  const Observer& observer() const { return *observer_; }
  void clear_progress();

 private:
  LiveStopEnvironment(ContainerInfo container, const ProcFs& proc, bool show_progress)
      : container_(std::move(container)), proc_(proc), show_progress_(show_progress) {}
  bool init_exited();

  ContainerInfo container_;
  const ProcFs& proc_;
  bool show_progress_;
  bool progress_shown_ = false;
  std::unique_ptr<Observer> observer_;
  UniqueFd init_pidfd_;
  std::optional<ExitStatus> exit_;
  OldConnections old_connections_;  // open when the stop began, before the observer could see them
  ActivityClock activity_;
};

}  // namespace sigdrain

// The daemon's stops: one StopMachine (the engine safe-stop loops on) per container being stopped, ticked from the
// daemon's loop. Everything a stop needs from the node, and every effect it has, goes through StopHost, so the
// daemon's whole stop path (drain, release of the hold, plan, exit, journal, metrics) runs in unit tests against
// a fake, with a clock that jumps.
#pragma once

#include <sys/types.h>

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "containers/resolver.hpp"
#include "daemon/journal.hpp"
#include "metrics/daemon_metrics.hpp"
#include "policy/drain.hpp"
#include "stop/stop_machine.hpp"
#include "util/result.hpp"

namespace sigdrain {

class StopHost {
 public:
  virtual ~StopHost() = default;
  virtual Clock::time_point now() = 0;
  // The container's drain sample now (BPF aggregates, with the compensation for connections older than them).
  virtual DrainSample drain_sample(const ContainerInfo& info) = 0;
  virtual std::vector<ProcessFacts> processes(const ContainerInfo& info) = 0;
  virtual std::vector<pid_t> listener_pids(const ContainerInfo& info) = 0;
  virtual Result<void> send(const ContainerInfo& info, pid_t pid, int signo) = 0;
  // The drain ended: let go of the init (detach, unguard), so the plan's signals and the exit pass untouched.
  // `held`: a backend suppressed the signal (else the kernel already dropped or delivered it).
  virtual void release_hold(const ContainerInfo& info, bool held) = 0;
  // The plan replaced these held signals, or the stop ended: they need not survive the daemon any more.
  virtual void forget_held(const std::vector<HoldRecord>& records) = 0;
  // The init is gone without an exit event (one lost to a full ring buffer).
  virtual bool init_gone_unseen(const ContainerInfo& info) = 0;
  virtual void stop_ended(const StopReport& report) = 0;  // the stop record: logged, kept for ps
};

struct StopRunnerSettings {
  // After the runtime's SIGKILL is due, the stop ends without the exit.
  std::chrono::milliseconds exit_grace{5000};
  // Finishing (a first SIGTERM), the daemon waits this long after a stop's plan for its container's exit, so that the
  // stop record has it; then it exits without it rather than delay its successor.
  std::chrono::milliseconds finishing_exit_wait{2000};
};

class StopRunner {
 public:
  struct Stop {
    ContainerInfo info;
    int signo = 0;
    bool held = false;     // the signal was suppressed by a backend
    bool resumed = false;  // taken over from a previous daemon's journal
    StopMachine machine;
    std::vector<HoldRecord> records;
    bool records_forgotten = false;
  };

  StopRunner(StopHost& host, metrics::DaemonMetrics& metrics, StopRunnerSettings settings = {})
      : host_(host), metrics_(metrics), settings_(settings) {}

  // Begins the stop of `info` with `drain`'s times; the plan is chosen from its processes and labels now.
  void start(const ContainerInfo& info, int signo, bool held, const StopDrain& drain, bool resumed = false);
  void add_record(const std::string& id, HoldRecord record);
  bool stopping(const std::string& id) const { return stops_.contains(id); }
  bool draining(const std::string& id) const;
  std::optional<DrainTimes> times(const std::string& id) const;
  bool empty() const { return stops_.empty(); }
  const std::map<std::string, Stop>& stops() const { return stops_; }

  // Drives every stop as far as it goes now.
  void tick();
  // The init of `id` exited; `status` is its cause where it was seen.
  void exited(const std::string& id, std::optional<ExitStatus> status);

  // Held or draining stops: those whose plan has not run.
  int drains_in_progress() const;
  // Every plan ran, and each container had its finishing_exit_wait to exit.
  bool plans_done_and_waited() const;
  // Finishing: stops whose plan ran end now without their exit.
  void end_awaiting_exit();
  // The daemon goes away now (a second SIGTERM): drains still running end, counted as released by the restart.
  // Returns those stops, whose held signals the caller delivers.
  std::vector<const Stop*> abandon_draining();
  // Every stop ends: their held signals need not survive the daemon.
  void forget_all_held();

 private:
  void tick(Stop& stop);
  void count_release(const Stop& stop, std::optional<ReleasedBy> by);
  void end(const std::string& id);

  StopHost& host_;
  metrics::DaemonMetrics& metrics_;
  StopRunnerSettings settings_;
  std::map<std::string, Stop> stops_;  // by container id
};

}  // namespace sigdrain

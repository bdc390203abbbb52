// `sigdrain daemon`: guards containers by holding the stop signals sent to their init (ptrace), drains them,
// then carries out their stop plan. All ptrace calls happen on the thread that runs Daemon::run().
//
// Attach at the stop: where the stop gate loads, nothing of a guarded container is traced between stops. The gate
// stops the runtime process that is about to send the stop signal (`runc kill <id> 15`), the daemon seizes the
// container's init and continues the runtime, whose signal then lands in a held delivery-stop. Where the gate
// cannot load, the daemon attaches at discovery instead (always attached).
#pragma once

#include <signal.h>

#include <atomic>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "containers/resolver.hpp"
#include "daemon/control.hpp"
#include "daemon/daemon_lock.hpp"
#include "daemon/discovery.hpp"
#include "daemon/guard.hpp"
#include "daemon/journal.hpp"
#include "daemon/options.hpp"
#include "daemon/stop_runner.hpp"
#include "hold/gate_watchdog.hpp"
#include "hold/hold_backend.hpp"
#include "hold/hold_engine.hpp"
#include "hold/lsm_hold.hpp"
#include "hold/stop_gate.hpp"
#include "metrics/daemon_metrics.hpp"
#include "metrics/server.hpp"
#include "observer/cgroup_changes.hpp"
#include "observer/observer.hpp"
#include "policy/drain.hpp"
#include "policy/plan.hpp"
#include "proc/proc.hpp"
#include "signals/signal_names.hpp"
#include "stop/old_connections.hpp"
#include "stop/stop_session.hpp"
#include "util/fd.hpp"

namespace sigdrain {

// The signals the daemon's Observer reports: the stop signals it may hold, and SIGKILL (how a stop may end). Any
// other signal runs the signal programs and writes no event.
inline constexpr uint64_t kDaemonReportedSignals =
    signal_bit(SIGTERM) | signal_bit(SIGINT) | signal_bit(SIGQUIT) | signal_bit(SIGHUP) | signal_bit(SIGKILL);

// The signals Daemon::run() reads through its signalfd (SIGCHLD: a tracee stopped). Each must be blocked in every
// thread of the daemon: the kernel hands a process-directed SIGCHLD to any thread that does not block it, and there
// it is lost, so the loop would sleep out its idle timeout while a tracee waits.
sigset_t daemon_signalfd_signals();
// Blocks them in the calling thread. Daemon::make() calls it before it starts any thread, so all threads inherit it.
void block_daemon_signals();

// The daemon's jobs: discovery and reconcile (which containers are guarded, and how), the hold (the gate, ptrace,
// BPF LSM: which signal was held), the stops (StopRunner, fed through this class's StopHost side) and control.
class Daemon : private StopHost {
 public:
  static Result<std::unique_ptr<Daemon>> make(const DaemonOptions& options);
  ~Daemon();
  // Runs until the first stop request (`stop_requests` counts SIGTERMs and SIGINTs). Then it finishes: takes no new
  // stop (the gate is detached, every container not being stopped is let go, so new stops pass as without
  // sigdrain), finishes the drains in progress, each at idle or its deadline, runs their plans and returns. A
  // second request delivers whatever is still held at once and lets every process go. No held signal depends on a
  // successor starting.
  int run(const std::atomic<int>& stop_requests);

 private:
  struct Guarded {
    ContainerInfo info;
    bool traced = false;  // attached by ptrace
    std::string why_not;  // why no backend holds its stop signals; empty when one does
    HoldBackend backend = HoldBackend::none;  // what holds its stop signals now (none once released)
    std::string backend_why;                  // why lsm rather than ptrace
  };
  explicit Daemon(const DaemonOptions& options) : options_(options), proc_(options.roots.proc), resolver_(options.roots) {}
  // Takes in a discovery scan: guards new containers, forgets those gone.
  void reconcile(std::vector<ContainerInfo> running);
  void watch_sockets(const ContainerInfo& info);
  void forget_ended_cgroups(const std::map<std::string, ContainerInfo>& running);
  void hold(Guarded& g);  // picks the hold backend for the container's init and guards it with that
  void guard(Guarded& g);  // at the stop gate where it loaded, else hold()
  void on_gated(const GatedProcess& gated);
  // Why the daemon must not attach for this gated process; empty when it may. Cheap: no runtime query.
  std::string gate_doubt(const GatedProcess& gated, const Guarded** guarded) const;
  void disarm_stale();
  void continue_leftover_runtime_kills();
  void renew_gate_lease();
  void on_refused(const RefusedSignal& refused);
  void renew_lsm_lease();
  void recover_journal();
  Result<void> on_held(const HeldSignal& held);
  void on_event(const ObservedEvent& event);
  void start_stop(const ContainerInfo& info, int signo, bool held, std::optional<DrainTimes> times, bool resumed = false);
  StopDrain drain_for(const ContainerInfo& info, Clock::time_point start) const;
  void begin_finishing();
  int drains_in_progress() const;  // held or draining stops, and inits attached at the gate awaiting their signal
  bool finished() const;           // finishing, and every stop in progress has run its plan
  // StopHost: what the stops read from the node and do to it.
  Clock::time_point now() override { return Clock::now(); }
  DrainSample drain_sample(const ContainerInfo& info) override;
  std::vector<ProcessFacts> processes(const ContainerInfo& info) override;
  std::vector<pid_t> listener_pids(const ContainerInfo& info) override;
  Result<void> send(const ContainerInfo& info, pid_t pid, int signo) override;
  void release_hold(const ContainerInfo& info, bool held) override;
  void forget_held(const std::vector<HoldRecord>& records) override;
  bool init_gone_unseen(const ContainerInfo& info) override;
  void stop_ended(const StopReport& report) override;
  void publish_metrics();
  void log(const std::string& line) const;
  void track_exit_codes();
  void log_lost_events();
  ControlReply answer(const std::string& line);
  ControlReply unguard(const std::string& id);

  DaemonOptions options_;
  ProcFs proc_;
  ContainerResolver resolver_;
  std::optional<Journal> journal_;
  std::optional<DaemonLock> lock_;
  std::unique_ptr<Observer> observer_;
  bool exit_codes_failed_ = false;  // the exit-code programs would not attach for the stops in progress
  std::unique_ptr<Tracer> tracer_;
  std::unique_ptr<HoldEngine> engine_;
  std::unique_ptr<StopGate> gate_;  // attach at the stop; null: always attached (gate_unavailable_ says why)
  std::string gate_unavailable_;
  std::optional<GateWatchdog> gate_watchdog_;
  Clock::time_point gate_lease_renewed_{};
  std::map<std::string, Clock::time_point> armed_;  // attached at the gate, the held signal not yet seen
  std::unique_ptr<LsmHold> lsm_;  // where BPF LSM works and hold-backend is not ptrace
  std::string lsm_unavailable_;   // why lsm_ is not loaded
  Clock::time_point lsm_lease_renewed_{};
  std::string own_container_id_;  // the container this daemon runs in (its DaemonSet pod): never guarded
  std::map<std::string, Guarded> containers_;  // by container id
  std::map<pid_t, std::string> init_to_container_;
  // Inbound connections open before this daemon's socket counts began (its first scan, nothing pinned adopted):
  // counted busy at a stop until they close or show data. By container id; gone once all are seen.
  struct OldLiveConnections {
    OldConnections connections;
    std::set<uint64_t> open;  // the container's socket inodes, as last read
    Clock::time_point open_read_at{};
  };
  std::map<std::string, OldLiveConnections> old_connections_;
  std::map<std::string, ActivityClock> activity_;  // of the containers sampled for a drain, by container id
  std::map<std::string, nlohmann::json> last_stops_;  // the latest stop record of each container still known
  std::optional<ControlServer> control_;
  metrics::DaemonMetrics metrics_;
  StopRunner stops_{*this, metrics_};  // the containers being stopped
  std::unique_ptr<metrics::MetricsServer> metrics_server_;  // only with --metrics-address
  Clock::time_point metrics_published_at_{};
  std::unique_ptr<CgroupChangeCounter> cgroup_changes_;  // read by discovery_'s thread: declared first, outlives it
  std::unique_ptr<ContainerDiscovery> discovery_;
  bool finishing_ = false;  // a first stop request came: no new stops, the ones in progress are finished
  bool discovered_ = false;  // a scan was taken in: the daemon knows the node's containers
  uint64_t lost_events_logged_ = 0;  // BPF events lost to a full ring buffer, as last logged
  uint64_t skipped_runs_ = 0;  // runs of the observer's programs the kernel skipped, as last read
  uint64_t skipped_runs_logged_ = 0;
  Clock::time_point lost_events_checked_at_{};
};

}  // namespace sigdrain

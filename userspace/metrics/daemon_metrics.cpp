#include "metrics/daemon_metrics.hpp"

namespace sigdrain::metrics {
namespace {

// The release reason of a drain counted by the restart rather than by its own end.
constexpr const char* kDaemonRestart = "daemon_restart";

}  // namespace

DaemonMetrics::DaemonMetrics()
    : info_(registry_.gauge("sigdrain_info", "The daemon's version, request probe set and hold backend; always 1")),
      holds_(registry_.counter("sigdrain_holds_total", "Stop signals held (suppressed) while their container drains")),
      releases_(registry_.counter("sigdrain_releases_total",
                                  "Drains ended, by reason: idle, deadline, exited (the container exited on its own), "
                                  "daemon_restart (resumed from a previous daemon's journal, or cut short by the "
                                  "daemon stopping)")),
      drain_seconds_(registry_.histogram("sigdrain_drain_duration_seconds", "How long drains lasted, from the stop signal to their end",
                                         {0.25, 0.5, 1, 2, 5, 10, 20, 30, 60, 120, 300, 600})),
      requests_completed_(registry_.counter("sigdrain_requests_completed_during_holds_total",
                                            "Requests that completed while their container drained")),
      sigkill_escalations_(registry_.counter("sigdrain_sigkill_escalations_total",
                                             "SIGKILLs sent by others to the init of a container being stopped")),
      gate_stops_(registry_.counter("sigdrain_gate_stops_total",
                                    "Runtime kills the stop gate stopped, by result: attached (init seized), let_go (no hold)")),
      stops_(registry_.counter("sigdrain_stops_total", "Stops finished, by outcome: graceful, killed, unknown (no exit seen)")),
      inflight_(registry_.gauge("sigdrain_container_inflight_requests", "Requests in flight in each known container")),
      open_connections_(registry_.gauge("sigdrain_container_open_connections", "Open inbound connections of each known container")),
      guarded_(registry_.gauge("sigdrain_guarded_containers", "Containers whose init the daemon holds stop signals for")),
      ringbuf_drops_(registry_.counter("sigdrain_ringbuf_drops_total", "BPF events lost because the ring buffer was full")),
      skipped_runs_(registry_.counter("sigdrain_bpf_runs_skipped_total",
                                      "Runs of sigdrain's BPF programs the kernel skipped: another BPF program was running on that CPU")) {
  holds_.inc({}, 0);
  for (ReleasedBy by : kReleasedByValues) releases_.inc({{"reason", std::string(released_by_name(by))}}, 0);
  releases_.inc({{"reason", kDaemonRestart}}, 0);
  drain_seconds_.declare({});
  requests_completed_.inc({}, 0);
  sigkill_escalations_.inc({}, 0);
  for (const char* result : {"attached", "let_go"}) gate_stops_.inc({{"result", result}}, 0);
  for (StopOutcome outcome : kStopOutcomeValues) stops_.inc({{"outcome", std::string(stop_outcome_name(outcome))}}, 0);
  guarded_.set({}, 0);
  ringbuf_drops_.set_total({}, 0);
  skipped_runs_.set_total({}, 0);
}

void DaemonMetrics::set_info(std::string_view version, std::string_view probe_set, std::string_view hold_backend) {
  info_.clear();
  info_.set({{"version", std::string(version)}, {"probe_set", std::string(probe_set)}, {"hold_backend", std::string(hold_backend)}}, 1);
  changed_ = true;
}

void DaemonMetrics::held() {
  holds_.inc();
  changed_ = true;
}

void DaemonMetrics::released(ReleasedBy by, int64_t drain_ms, uint64_t requests_completed) {
  count_release(released_by_name(by), drain_ms, requests_completed);
}

void DaemonMetrics::released_by_restart(int64_t drain_ms, uint64_t requests_completed) {
  count_release(kDaemonRestart, drain_ms, requests_completed);
}

void DaemonMetrics::count_release(std::string_view reason, int64_t drain_ms, uint64_t requests_completed) {
  releases_.inc({{"reason", std::string(reason)}});
  drain_seconds_.observe({}, static_cast<double>(drain_ms) / 1000.0);
  requests_completed_.inc({}, static_cast<double>(requests_completed));
  changed_ = true;
}

void DaemonMetrics::stopped(StopOutcome outcome) {
  stops_.inc({{"outcome", std::string(stop_outcome_name(outcome))}});
  changed_ = true;
}

void DaemonMetrics::sigkill_escalation() {
  sigkill_escalations_.inc();
  changed_ = true;
}

void DaemonMetrics::gated(std::string_view result) {
  gate_stops_.inc({{"result", std::string(result)}});
  changed_ = true;
}

void DaemonMetrics::set_state(const std::vector<ContainerSample>& containers, size_t guarded, uint64_t ringbuf_drops,
                              uint64_t skipped_runs) {
  inflight_.clear();
  open_connections_.clear();
  for (const auto& c : containers) {
    Labels labels{{"container", c.name}, {"id", c.id}};
    inflight_.set(labels, static_cast<double>(c.inflight));
    open_connections_.set(labels, static_cast<double>(c.open_connections));
  }
  guarded_.set({}, static_cast<double>(guarded));
  ringbuf_drops_.set_total({}, static_cast<double>(ringbuf_drops));
  skipped_runs_.set_total({}, static_cast<double>(skipped_runs));
}

bool DaemonMetrics::take_changed() {
  bool changed = changed_;
  changed_ = false;
  return changed;
}

}  // namespace sigdrain::metrics

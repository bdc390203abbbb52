// The daemon's metrics: every name, help text, label set and bucket in one place. The daemon says what happened;
// this keeps the counts and renders them. Pure (docs/daemon.md, "Metrics", lists them).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "metrics/registry.hpp"
#include "stop/stop_outcome.hpp"

namespace sigdrain::metrics {

struct ContainerSample {
  std::string name, id;
  int64_t inflight = 0;
  int64_t open_connections = 0;
};

class DaemonMetrics {
 public:
  DaemonMetrics();
  void set_info(std::string_view version, std::string_view probe_set, std::string_view hold_backend);
  void held();  // a stop signal was suppressed
  // A drain ended, counted by its reason (idle | deadline | exited), or as daemon_restart: one resumed from a
  // previous daemon's journal, or cut short by the daemon stopping.
  void released(ReleasedBy by, int64_t drain_ms, uint64_t requests_completed);
  void released_by_restart(int64_t drain_ms, uint64_t requests_completed);
  void stopped(StopOutcome outcome);
  void sigkill_escalation();
  // The stop gate stopped a runtime's kill: result attached (the init was seized) | let_go (a doubt: no hold).
  void gated(std::string_view result);
  // The state sampled now: the containers the daemon knows, how many it guards, the kernel's drop count and the
  // runs of sigdrain's programs the kernel skipped (another BPF program was running on that CPU).
  void set_state(const std::vector<ContainerSample>& containers, size_t guarded, uint64_t ringbuf_drops,
                 uint64_t skipped_runs);
  std::string render() const { return registry_.render(); }
  // True once after each change of a count: the caller publishes a fresh snapshot then.
  bool take_changed();

 private:
  Registry registry_;
  GaugeFamily& info_;
  CounterFamily& holds_;
  CounterFamily& releases_;
  HistogramFamily& drain_seconds_;
  CounterFamily& requests_completed_;
  CounterFamily& sigkill_escalations_;
  CounterFamily& gate_stops_;
  CounterFamily& stops_;
  GaugeFamily& inflight_;
  GaugeFamily& open_connections_;
  GaugeFamily& guarded_;
  CounterFamily& ringbuf_drops_;
  CounterFamily& skipped_runs_;
  void count_release(std::string_view reason, int64_t drain_ms, uint64_t requests_completed);

  bool changed_ = false;
};

}  // namespace sigdrain::metrics

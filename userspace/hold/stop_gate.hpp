// The stop gate (bpf/stop_gate.bpf.c): the kernel stops a host runtime process that is about to send a guarded
// container its stop signal (`runc kill <id> 15`) before its first instruction, so the daemon can seize the
// container's init just in time and hold that signal. Between stops nothing of a guarded container is traced.
//
// Fail-open: a process is stopped only while the owner's lease is fresh; every stopped one is in the `gated` map
// until it is continued (release), and a watchdog (hold/gate_watchdog.hpp) continues whatever stays there too
// long, or everything once the daemon is gone. The destructor ends the lease and continues every leftover.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <csignal>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "hold/runtime_kill.hpp"
#include "util/result.hpp"

namespace sigdrain {

struct GatedProcess {
  pid_t tgid = 0;
  std::uint64_t start_ns = 0;    // its start_boottime, to tell it from a later process with the same pid
  std::uint64_t stopped_ns = 0;  // CLOCK_MONOTONIC
  int signo = 0;                 // the signal its argv asks for
  std::string container_id;
  bool operator==(const GatedProcess&) const = default;
};

struct StopGateOptions {
  std::vector<int> gated_signals{SIGTERM, SIGINT, SIGQUIT, SIGHUP};  // SIGKILL is refused
  // Basenames, at most 15 bytes: the binaries the daemon's re-check (is_runtime_binary) accepts.
  std::vector<std::string> runtimes{kRuntimeBinaries.begin(), kRuntimeBinaries.end()};
};

struct StopGateCounters {
  std::uint64_t stopped = 0;
  std::uint64_t ringbuf_drops = 0;  // passed ungated: the daemon could not be told
  std::uint64_t map_full = 0;       // passed ungated: the watchdog could not have seen it
  std::uint64_t argv_unread = 0;    // a runtime's argv too long or unreadable
  std::uint64_t not_a_kill = 0;     // a runtime ran, but not a guarded kill with a held signal
  std::uint64_t send_failed = 0;    // bpf_send_signal refused
};

// One ring-buffer record or map value; nullopt when its size is not that of struct sigdrain_gated.
std::optional<GatedProcess> decode_gated(std::span<const std::byte> record);
// Why the stop gate cannot load on this kernel (it needs bpf_loop, 5.17+, and bpf_send_signal); empty when it can.
std::string stop_gate_unavailable_reason();
// Whether the watchdog continues it now: stopped `bound` ago or longer (or the daemon is gone: everything).
bool gate_overdue(const GatedProcess& p, std::uint64_t now_ns, std::chrono::nanoseconds bound);

// The `gated` map as a process that holds its fd sees it (the daemon and its watchdog).
std::vector<GatedProcess> read_gated(int gated_map_fd);
// Continues the process if it is still the one that was stopped, and deletes its entry. A process that is gone
// (or a pid reused since) only loses its entry.
Result<void> continue_gated(int gated_map_fd, const GatedProcess& p);

class StopGate {
 public:
  using GatedCallback = std::function<void(const GatedProcess&)>;

  // Loads and attaches the program. The lease starts expired: nothing is stopped before renew_lease().
  static Result<std::unique_ptr<StopGate>> load(StopGateOptions options, GatedCallback on_gated);
  ~StopGate();
  StopGate(const StopGate&) = delete;
  StopGate& operator=(const StopGate&) = delete;

  Result<void> guard(const std::string& container_id);    // fails for an id longer than the map's key
  Result<void> unguard(const std::string& container_id);  // an id not guarded is fine
  bool guarding(const std::string& container_id) const;
  void renew_lease(std::chrono::nanoseconds lease);
  void end_lease();

  // The signals it stops a runtime's kill for (the options' less SIGKILL): what the daemon's re-check holds too.
  std::span<const int> gated_signals() const;
  // Whether it is still in the gated map (the watchdog deletes what it continues).
  bool still_gated(const GatedProcess& p) const;
  // Continues a process the gate stopped (see continue_gated).
  Result<void> release(const GatedProcess& p) { return continue_gated(gated_map_fd(), p); }
  // Continues every process in the map: a previous daemon's leftovers at start-up, this one's at the end.
  std::size_t release_all();

  // Hands each stop reported since the last call to the callback; how many.
  Result<int> poll(std::chrono::milliseconds timeout);
  int event_fd() const;  // readable when reports wait, for a caller's epoll
  int gated_map_fd() const;
  StopGateCounters counters() const;

 private:
  struct Impl;
  explicit StopGate(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace sigdrain

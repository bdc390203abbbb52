// One observed signal, delivery or exit, enriched with process and container facts: what `sigdrain trace`
// prints as a row or as a JSON line.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>

#include <nlohmann/json.hpp>

#include "proc/proc.hpp"

namespace sigdrain {

struct ContainerView {
  std::string id;  // full id
  std::string name;
  std::string runtime;  // "podman", "docker", ...
};

struct ProcessView {
  uint32_t pid = 0;                // in the initial pid namespace
  std::optional<uint32_t> ns_pid;  // in the process's own pid namespace (1 for a container's init)
  std::string comm;
  std::optional<ContainerView> container;  // nullopt: a host process
  bool kernel = false;                     // the kernel generated the signal (fault, timer, ...)
  // kernel: the process the kernel was running in when it generated the signal (the faulting process, an exiting
  // child for SIGCHLD, any process a timer interrupted for SIGALRM), as sigsnoop's PID column shows it.
  std::optional<uint32_t> context_pid;
  // signal target only: the thread a thread-directed signal (tkill, tgkill, a fault) was sent to, when it is not
  // the main thread.
  std::optional<uint32_t> tid;
};

enum class TraceEventType { signal, deliver, exit };

struct TraceRecord {
  TraceEventType type = TraceEventType::signal;
  std::chrono::system_clock::time_point time;
  int signo = 0;
  ProcessView sender;  // signal only
  ProcessView target;  // the receiving (deliver) or exiting (exit) process too
  std::string result;  // signal: delivered | ignored | pending | overflow | lose_info
  std::optional<Disposition> disposition;  // the target's disposition for signo when the event was seen
  std::optional<int64_t> inflight;          // requests in flight in the target's container
  std::optional<int64_t> escalation_after_ms;  // SIGKILL this long after a stop signal to the same process
  // exit only
  std::optional<int> exit_code;
  std::optional<int> killed_by;
  std::optional<int64_t> after_signal_ms;  // since the last SIGTERM/SIGINT/SIGQUIT/SIGHUP to the process
  std::string verdict;  // plain words
};

nlohmann::json to_json(const TraceRecord& record);

// Fixed-width columns: the header's widths match the rows'.
std::string human_header();
std::string human_row(const TraceRecord& record);

}  // namespace sigdrain

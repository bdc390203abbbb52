// Turns raw observer events into TraceRecords. The facts it needs about processes and containers come through
// ProcessDirectory, so the logic is tested with a fake directory and no root.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>

#include "observer/bpf_events.hpp"
#include "proc/proc.hpp"
#include "trace/signal_story.hpp"
#include "trace/trace_record.hpp"

namespace sigdrain {

class ProcessDirectory {
 public:
  virtual ~ProcessDirectory() = default;
  // Facts about a live process (pid is a thread or process id); for one that is gone, what was last known.
  virtual std::optional<ProcessView> process(uint32_t pid) = 0;
  virtual std::optional<uint32_t> tgid_of(uint32_t pid) = 0;
  virtual std::optional<ContainerView> container_of_cgroup(uint64_t cgroup_id) = 0;
  // The cgroup whose requests in flight are counted for this process's container.
  virtual std::optional<uint64_t> cgroup_of(uint32_t pid) = 0;
};

// The target's disposition as the signal event carries it (bpf/dispositions.bpf.c's record at generation),
// checked against the kernel's result: nullopt ("unknown") when it is not known, or when the two disagree (a
// signal the kernel dropped at generation cannot have had a handler or been blocked).
std::optional<Disposition> disposition_at_generation(uint32_t bpf_disposition, uint32_t result);

class RecordBuilder {
 public:
  using InflightLookup = std::function<std::optional<int64_t>(uint64_t cgroup_id)>;
  using WallClock = std::function<std::chrono::system_clock::time_point(uint64_t monotonic_ns)>;

  RecordBuilder(ProcessDirectory& directory, InflightLookup inflight, WallClock wall)
      : directory_(directory), inflight_(std::move(inflight)), wall_(std::move(wall)) {}

  TraceRecord build(const SignalEvent& e);
  TraceRecord build(const DeliverEvent& e);
  TraceRecord build(const ExitEvent& e);

 private:
  ProcessView view_or_comm(uint32_t pid, std::string_view comm);

  ProcessDirectory& directory_;
  InflightLookup inflight_;
  WallClock wall_;
  SignalStory story_;
};

}  // namespace sigdrain

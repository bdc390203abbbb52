// When is a container idle, and when must the drain end. Pure: plain samples in, decisions out.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>

#include "policy/plan.hpp"
#include "util/result.hpp"

namespace sigdrain {

using Clock = std::chrono::steady_clock;

// Idle means no request in flight and no data on an inbound connection for this long. One second covers a
// load balancer that still routes to the container for a moment after the stop began (deregistration and health
// checks lag) and keep-alive clients thinking between two requests, and costs at most one second per stop.
inline constexpr std::chrono::milliseconds kDefaultQuiet{1000};

// The stop timeout when neither the command line nor the runtime gives one: docker's and podman's own default.
inline constexpr std::chrono::seconds kDefaultStopTimeout{10};

struct DrainSample {
  Clock::time_point now;
  int64_t inflight = 0;  // requests read but not yet answered; a counter race may make it negative: read as 0
  int64_t open_inbound = 0;
  uint64_t requests_completed = 0;  // since the observer started, monotonic
  Clock::time_point last_activity;  // last data on an inbound connection
};

struct DrainTimes {
  Clock::time_point start;
  Clock::time_point drain_deadline;  // the stop signal goes out at the latest here
  Clock::time_point kill_at;         // SIGKILL
  // Idle releases no earlier than this (the min-drain); the default, the epoch, never holds anything back.
  Clock::time_point earliest_release{};
};

// `timeout` is the time from the stop's start until SIGKILL. The drain may last until `timeout - reserve`,
// reserve = timeout/4 clamped to [1 s, 10 s]: the app's own shutdown needs time after the signal. It never ends
// before `start + quiet`, so even a short timeout waits for late traffic. A negative quiet, or a timeout shorter than
// quiet + 1 s (no room for both the quiet window and a shutdown), is an error.
Result<DrainTimes> plan_drain(Clock::time_point start, std::chrono::milliseconds timeout,
                              std::chrono::milliseconds quiet);

// A stop is held at least `min_drain` from its start even when idle: the endpoints controller and the load balancers
// keep routing to a stopping pod for a while (Istio's MINIMUM_DRAIN_DURATION and the usual preStop sleep stand for
// that lag), and a pod with sparse traffic may see its last request only after the quiet window. Never past the
// drain deadline: the grace period wins. Zero or negative: no minimum.
DrainTimes with_min_drain(DrainTimes times, std::chrono::milliseconds min_drain);

// What a stop's drain times come from besides the container's labels. safe-stop fills it from its flags, the daemon
// from its config, so the same container drains for the same times whichever of the two stops it.
// A stop's timeout (its start to SIGKILL), decided here for safe-stop and the daemon alike: the caller's own
// (safe-stop's --timeout), else the container's (the runtime's StopTimeout, the pod's grace period), else
// `fallback` (the daemon's default-timeout, or kDefaultStopTimeout).
std::chrono::milliseconds stop_timeout(std::optional<std::chrono::milliseconds> caller, std::optional<int> container_timeout_s,
                                       std::chrono::milliseconds fallback);

struct DrainSettings {
  std::chrono::milliseconds timeout{kDefaultStopTimeout};  // the stop's start to SIGKILL, as the caller resolved it
  std::optional<std::chrono::milliseconds> quiet;          // --quiet, the daemon's quiet-ms: wins over the label
  std::chrono::milliseconds default_min_drain{0};          // the daemon's min-drain-ms: the label wins
  // The daemon's max-hold-ms: the longest it withholds a signal the runtime already sent. safe-stop holds nothing
  // (it sends the first signal itself, at the drain's end), so it leaves this unset.
  std::optional<std::chrono::milliseconds> max_hold;
};

// One stop's drain: its times (earliest_release is the min-drain) and the quiet window the tracker judges idle by.
struct StopDrain {
  DrainTimes times;
  std::chrono::milliseconds quiet{kDefaultQuiet};
};

// The quiet window: the caller's override, else the label, else kDefaultQuiet.
std::chrono::milliseconds quiet_window(const LabelSettings& labels, std::optional<std::chrono::milliseconds> override_quiet);

// The one place a stop's drain times are decided, for safe-stop and the daemon alike. plan_drain() from the timeout
// and the quiet window; then `sigdrain.io/max-drain-ms` caps the deadline, floored at the quiet window like the
// deadline itself (a drain always waits one quiet window for late traffic); then max-hold caps it, unfloored (the
// operator's bound on a held signal is hard); then the min-drain (the label, else default_min_drain) delays an idle
// release, never past the deadline. A timeout too short for the quiet window plus 1 s is plan_drain()'s error.
Result<StopDrain> drain_for_stop(Clock::time_point start, const LabelSettings& labels, const DrainSettings& settings);

// The same for a stop that cannot be refused (the daemon's: the runtime already sent its signal). A timeout too
// short for the quiet window plus 1 s drains for the quiet window, then the caps and the min-drain apply as above.
StopDrain drain_for_signalled_stop(Clock::time_point start, const LabelSettings& labels, const DrainSettings& settings);

enum class DrainState { draining, idle, deadline };

// When a container was last active, from the BPF activity count its sampler reads: the time of the first sample
// that saw the count move. Its first sample cannot know when the count last moved, so it counts as activity then
// (a resumed stop waits a quiet window from its resumption). Late by at most one sampling period, never early: the
// drain errs towards waiting. One per container being sampled.
class ActivityClock {
 public:
  Clock::time_point seen(uint64_t activity, Clock::time_point now);

 private:
  bool sampled_ = false;
  uint64_t activity_ = 0;
  Clock::time_point moved_at_{};
};

class DrainTracker {
 public:
  DrainTracker(DrainTimes times, std::chrono::milliseconds quiet, uint64_t completed_at_start)
      : times_(times), quiet_(quiet), completed_at_start_(completed_at_start), completed_(completed_at_start),
        last_activity_(times.start), last_now_(times.start) {}

  // Idle: nothing in flight and no activity for the quiet window, counted from the later of the last activity and
  // the start (a stop always waits one quiet window, for late traffic), and not before the earliest release;
  // exactly `quiet` counts. Deadline: now is at
  // or past the drain deadline. Idle wins when both hold. Each sample is judged afresh: new activity after an idle
  // answer makes the container draining again. The last activity is the latest any sample reported.
  DrainState update(const DrainSample& sample);
  uint64_t requests_completed_during_drain() const { return completed_ - completed_at_start_; }
  // From the start to the latest sample; zero before the first.
  std::chrono::milliseconds drained_for() const;

 private:
  DrainTimes times_;
  std::chrono::milliseconds quiet_;
  uint64_t completed_at_start_;
  uint64_t completed_;
  Clock::time_point last_activity_;
  Clock::time_point last_now_;
};

}  // namespace sigdrain

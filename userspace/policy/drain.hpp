// When is a container idle, and when must the drain end. Pure: plain samples in, decisions out.
#pragma once

#include <chrono>
#include <cstdint>

#include "util/result.hpp"

namespace sigdrain {

using Clock = std::chrono::steady_clock;

// Idle means no request in flight and no data on an inbound connection for this long. One second covers a
// load balancer that still routes for a moment after the stop began and keep-alive clients between requests,
// and costs at most one second per stop.
inline constexpr std::chrono::milliseconds kDefaultQuiet{1000};

struct DrainSample {
  Clock::time_point now;
  int64_t inflight = 0;
  int64_t open_inbound = 0;
  uint64_t requests_completed = 0;
  Clock::time_point last_activity;  // last data on an inbound connection
};

struct DrainTimes {
  Clock::time_point start;
  Clock::time_point drain_deadline;  // the stop signal goes out at the latest here
  Clock::time_point kill_at;         // SIGKILL
};

// The drain may last until `timeout - reserve`, reserve = timeout/4 clamped to [1 s, 10 s]: the app's own
// shutdown needs time after the signal. It never ends before `start + quiet`. A timeout shorter than
// quiet + 1 s leaves no room for either and is an error.
Result<DrainTimes> plan_drain(Clock::time_point start, std::chrono::milliseconds timeout, std::chrono::milliseconds quiet);

enum class DrainState { draining, idle, deadline };

class DrainTracker {
 public:
  DrainTracker(DrainTimes times, std::chrono::milliseconds quiet, uint64_t completed_at_start)
      : times_(times), quiet_(quiet), completed_at_start_(completed_at_start), completed_(completed_at_start) {}

  // Idle: nothing in flight and nothing received or sent for the quiet window, counted from the later of
  // the last activity and the start (a stop always waits the quiet window, for late traffic). Idle wins over
  // the deadline when both hold.
  DrainState update(const DrainSample& sample);
  uint64_t requests_completed_during_drain() const { return completed_ - completed_at_start_; }

 private:
  DrainTimes times_;
  std::chrono::milliseconds quiet_;
  uint64_t completed_at_start_;
  uint64_t completed_;
};

}  // namespace sigdrain

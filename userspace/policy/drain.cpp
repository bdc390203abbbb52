#include "policy/drain.hpp"

#include <algorithm>

namespace sigdrain {

Result<DrainTimes> plan_drain(Clock::time_point start, std::chrono::milliseconds timeout, std::chrono::milliseconds quiet) {
  using std::chrono::milliseconds;
  if (timeout < quiet + milliseconds(1000))
    return Error::msg(fmt::format("timeout {} ms leaves no room to drain: it must be at least the quiet window ({} ms) plus 1 s",
                                  timeout.count(), quiet.count()));
  milliseconds reserve = std::clamp(timeout / 4, milliseconds(1000), milliseconds(10000));
  DrainTimes t;
  t.start = start;
  t.kill_at = start + timeout;
  t.drain_deadline = std::max(start + timeout - reserve, start + quiet);
  return t;
}

DrainState DrainTracker::update(const DrainSample& s) {
  completed_ = std::max(completed_, s.requests_completed);
  const Clock::time_point quiet_since = std::max(s.last_activity, times_.start);
  if (s.inflight <= 0 && s.now - quiet_since >= quiet_) return DrainState::idle;
  if (s.now >= times_.drain_deadline) return DrainState::deadline;
  return DrainState::draining;
}

}  // namespace sigdrain

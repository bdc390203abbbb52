#include "policy/drain.hpp"

#include <algorithm>

#include <fmt/format.h>

namespace sigdrain {

using std::chrono::milliseconds;

std::chrono::milliseconds stop_timeout(std::optional<std::chrono::milliseconds> caller, std::optional<int> container_timeout_s,
                                       std::chrono::milliseconds fallback) {
  if (caller) return *caller;
  if (container_timeout_s) return std::chrono::seconds(*container_timeout_s);
  return fallback;
}

Result<DrainTimes> plan_drain(Clock::time_point start, milliseconds timeout, milliseconds quiet) {
  if (quiet.count() < 0) return Error::msg(fmt::format("quiet window {} ms is negative", quiet.count()));
  if (timeout < quiet + milliseconds(1000))
    return Error::msg(fmt::format("timeout {} ms leaves no room to drain: it must be at least the quiet window ({} ms) "
                                  "plus 1 s",
                                  timeout.count(), quiet.count()));
  const milliseconds reserve = std::clamp(timeout / 4, milliseconds(1000), milliseconds(10000));
  DrainTimes t;
  t.start = start;
  t.kill_at = start + timeout;
  t.drain_deadline = start + std::max(timeout - reserve, quiet);
  return t;
}

DrainTimes with_min_drain(DrainTimes t, milliseconds min_drain) {
  if (min_drain.count() <= 0) return t;
  t.earliest_release = std::min(t.start + min_drain, t.drain_deadline);
  return t;
}

milliseconds quiet_window(const LabelSettings& labels, std::optional<milliseconds> override_quiet) {
  return override_quiet ? *override_quiet : labels.quiet.value_or(kDefaultQuiet);
}

namespace {

StopDrain capped(DrainTimes t, milliseconds quiet, const LabelSettings& labels, const DrainSettings& settings) {
  if (labels.max_drain) t.drain_deadline = std::min(t.drain_deadline, t.start + std::max(*labels.max_drain, quiet));
  if (settings.max_hold) t.drain_deadline = std::min(t.drain_deadline, t.start + *settings.max_hold);
  return {with_min_drain(t, labels.min_drain.value_or(settings.default_min_drain)), quiet};
}

}  // namespace

Result<StopDrain> drain_for_stop(Clock::time_point start, const LabelSettings& labels, const DrainSettings& settings) {
  const milliseconds quiet = quiet_window(labels, settings.quiet);
  auto times = plan_drain(start, settings.timeout, quiet);
  if (!times) return times.error();
  return capped(*times, quiet, labels, settings);
}

StopDrain drain_for_signalled_stop(Clock::time_point start, const LabelSettings& labels, const DrainSettings& settings) {
  const milliseconds quiet = quiet_window(labels, settings.quiet);
  auto times = plan_drain(start, settings.timeout, quiet);
  return capped(times ? *times : DrainTimes{start, start + quiet, start + settings.timeout}, quiet, labels, settings);
}

Clock::time_point ActivityClock::seen(uint64_t activity, Clock::time_point now) {
  if (!sampled_ || activity != activity_) moved_at_ = now;
  sampled_ = true;
  activity_ = activity;
  return moved_at_;
}

DrainState DrainTracker::update(const DrainSample& s) {
  completed_ = std::max(completed_, s.requests_completed);
  last_activity_ = std::max(last_activity_, s.last_activity);
  last_now_ = std::max(last_now_, s.now);
  if (std::max<int64_t>(s.inflight, 0) == 0 && s.now - last_activity_ >= quiet_ && s.now >= times_.earliest_release)
    return DrainState::idle;
  if (s.now >= times_.drain_deadline) return DrainState::deadline;
  return DrainState::draining;
}

milliseconds DrainTracker::drained_for() const {
  return std::chrono::duration_cast<milliseconds>(last_now_ - times_.start);
}

}  // namespace sigdrain

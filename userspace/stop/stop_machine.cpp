#include "stop/stop_machine.hpp"

#include <algorithm>
#include <csignal>

namespace sigdrain {
namespace {

int64_t ms_between(Clock::time_point a, Clock::time_point b) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(b - a).count();
}

}  // namespace

StopMachine::StopMachine(StopMachineSettings settings)
    : settings_(std::move(settings)),
      tracker_(settings_.times, settings_.quiet, settings_.requests_completed_at_start) {
  report_.plan = settings_.plan;
}

int64_t StopMachine::ms_since_start(Clock::time_point now) const { return ms_between(settings_.times.start, now); }

StopAction StopMachine::next(Clock::time_point now, const std::optional<DrainSample>& sample) {
  const DrainTimes& t = settings_.times;
  if (phase_ == StopPhase::draining) {
    DrainState state = DrainState::draining;
    if (sample) {
      last_sample_ = sample;
      state = tracker_.update(*sample);
    } else if (now >= t.drain_deadline) {
      state = DrainState::deadline;  // no sample to judge idleness by; the deadline needs none
    }
    if (state == DrainState::draining) return {StopAction::Kind::wait, std::min(now + settings_.sample_every, t.drain_deadline)};
    end_drain(now, state == DrainState::idle ? ReleasedBy::idle : ReleasedBy::deadline, last_sample_ ? &*last_sample_ : nullptr);
    phase_ = StopPhase::signalling;
    next_step_at_ = now;
    return {StopAction::Kind::release};
  }
  if (phase_ == StopPhase::signalling) {
    while (next_step_ < settings_.plan.steps.size()) {
      if (now < next_step_at_) return {StopAction::Kind::wait, next_step_at_};
      const PlanStep& step = settings_.plan.steps[next_step_++];
      if (step.signo == 0) {
        next_step_at_ = now + step.pause;
        continue;
      }
      return {StopAction::Kind::send, {}, &step};
    }
    phase_ = StopPhase::awaiting_exit;
    plan_done_at_ = now;
  }
  if (phase_ == StopPhase::awaiting_exit) {
    if (settings_.kill == KillAtTimeout::sigdrain_kills) {
      if (now < t.kill_at) return {StopAction::Kind::wait, t.kill_at};
      phase_ = StopPhase::killing;
      return {StopAction::Kind::kill};
    }
    if (now < t.kill_at + settings_.exit_grace) return {StopAction::Kind::wait, t.kill_at + settings_.exit_grace};
    finish(now, std::nullopt, false);
  }
  if (phase_ == StopPhase::killing) {
    Clock::time_point give_up = killed_at_.value_or(now) + settings_.exit_grace;
    if (now < give_up) return {StopAction::Kind::wait, give_up};
    finish(now, std::nullopt, false);
  }
  return {StopAction::Kind::done};
}

void StopMachine::sent(Clock::time_point now, std::vector<SentSignal> signals) {
  if (signals.empty()) return;
  if (!first_signal_at_) first_signal_at_ = now;
  if (phase_ == StopPhase::killing) killed_at_ = now;
  for (auto& s : signals) report_.sent.push_back(std::move(s));
}

void StopMachine::exited(Clock::time_point now, std::optional<ExitStatus> status) {
  if (phase_ == StopPhase::done) return;
  if (phase_ == StopPhase::draining) end_drain(now, ReleasedBy::exited, last_sample_ ? &*last_sample_ : nullptr);
  finish(now, status, true);
}

void StopMachine::abandon(Clock::time_point now) {
  if (phase_ == StopPhase::draining) report_.drain_ms = ms_since_start(now);
  phase_ = StopPhase::done;
}

void StopMachine::end_drain(Clock::time_point now, ReleasedBy by, const DrainSample* last) {
  report_.released_by = by;
  report_.drain_ms = ms_since_start(now);
  report_.requests_completed = tracker_.requests_completed_during_drain();
  if (last) {
    report_.inflight_at_release = std::max<int64_t>(last->inflight, 0);
    report_.open_inbound_at_release = std::max<int64_t>(last->open_inbound, 0);
  }
}

// The outcome, decided here only. Graceful: the init exited and no SIGKILL but the plan's own ended it. Killed:
// sigdrain's SIGKILL at the timeout, or a SIGKILL the plan did not send (the runtime's at its timeout, `rm -f`).
// Unknown: the exit or its cause was not seen.
void StopMachine::finish(Clock::time_point now, std::optional<ExitStatus> status, bool exit_seen) {
  if (status) report_.exit = *status;
  bool planned_sigkill = !report_.sent.empty() && report_.sent.back().signo == SIGKILL;
  if (killed_at_)
    report_.outcome = StopOutcome::killed;
  else if (!exit_seen || !status)
    report_.outcome = StopOutcome::unknown;
  else if (status->killed_by == SIGKILL && !planned_sigkill)
    report_.outcome = StopOutcome::killed;
  else
    report_.outcome = StopOutcome::graceful;
  if (first_signal_at_) report_.exit_ms_after_signal = ms_between(*first_signal_at_, now);
  report_.total_ms = ms_since_start(now);
  phase_ = StopPhase::done;
}

}  // namespace sigdrain

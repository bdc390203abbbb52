#include "stop/stop_session.hpp"

#include <algorithm>
#include <csignal>

#include <fmt/format.h>

#include "signals/signal_names.hpp"

namespace sigdrain {
namespace {

int64_t ms_between(Clock::time_point a, Clock::time_point b) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(b - a).count();
}

}  // namespace

StopReport run_stop(StopEnvironment& env, const StopPlan& plan, const DrainTimes& times, std::chrono::milliseconds quiet,
                    pid_t init_pid) {
  StopReport report;
  report.plan = plan;
  const DrainSample first = env.sample();
  DrainTracker tracker(times, quiet, first.requests_completed);

  // 1. Drain: keep serving until idle for the quiet window, or the drain deadline.
  constexpr auto kTick = std::chrono::milliseconds(20);
  DrainSample last = first;
  for (;;) {
    last = env.sample();
    DrainState state = tracker.update(last);
    env.progress(last, times);
    if (state == DrainState::idle || state == DrainState::deadline) {
      report.released_by = state == DrainState::idle ? ReleasedBy::idle : ReleasedBy::deadline;
      break;
    }
    if (env.pause_until(std::min(last.now + kTick, times.drain_deadline))) {
      report.released_by = ReleasedBy::exited;
      break;
    }
  }
  report.drain_ms = ms_between(times.start, env.now());
  report.requests_completed = tracker.requests_completed_during_drain();
  report.inflight_at_release = std::max<int64_t>(last.inflight, 0);
  report.open_inbound_at_release = std::max<int64_t>(last.open_inbound, 0);

  // 2. The plan, step by step; pauses end early when the container is already gone.
  bool exited = report.released_by == ReleasedBy::exited;
  std::optional<Clock::time_point> first_signal_at;
  for (const PlanStep& step : plan.steps) {
    if (exited) break;
    if (step.signo == 0) {
      exited = env.pause_until(env.now() + step.pause);
      continue;
    }
    auto processes = env.processes();
    auto listeners = step.target.kind == TargetKind::listeners ? env.listener_pids() : std::vector<pid_t>{};
    for (pid_t pid : resolve_target(step.target, processes, init_pid, listeners)) {
      SentSignal s{step.signo, pid, "", format_target(step.target), 0, ""};
      if (const ProcessFacts* p = find_process(processes, pid)) s.comm = p->comm;
      if (auto r = env.send(pid, step.signo); !r) s.error = r.error().message;
      s.at_ms = ms_between(times.start, env.now());
      if (!first_signal_at) first_signal_at = env.now();
      report.sent.push_back(std::move(s));
    }
  }

  // 3. Wait for the exit; SIGKILL at the timeout.
  if (!exited) exited = env.wait_for_exit(times.kill_at);
  report.outcome = StopOutcome::graceful;
  if (!exited) {
    report.outcome = StopOutcome::killed;
    SentSignal s{SIGKILL, init_pid, "", "init", 0, ""};
    if (auto r = env.send(init_pid, SIGKILL); !r) s.error = r.error().message;
    s.at_ms = ms_between(times.start, env.now());
    if (!first_signal_at) first_signal_at = env.now();
    report.sent.push_back(std::move(s));
    env.wait_for_exit(env.now() + std::chrono::seconds(5));
  }
  if (first_signal_at) report.exit_ms_after_signal = ms_between(*first_signal_at, env.now());
  if (auto status = env.exit_status()) report.exit = *status;
  // Ended by a SIGKILL the plan did not send (e.g. `podman rm -f` meanwhile): not graceful either.
  if (report.exit.killed_by == SIGKILL && (report.sent.empty() || report.sent.back().signo != SIGKILL)) report.outcome = StopOutcome::killed;
  report.total_ms = ms_between(times.start, env.now());
  return report;
}

nlohmann::json to_json(const StopReport& r) {
  nlohmann::json sent = nlohmann::json::array();
  for (const auto& s : r.sent) {
    nlohmann::json j = {{"signal", signal_name(s.signo)}, {"pid", s.pid}, {"comm", s.comm}, {"target", s.target}, {"at_ms", s.at_ms}};
    if (!s.error.empty()) j["error"] = s.error;
    sent.push_back(std::move(j));
  }
  auto opt = [](const auto& v) { return v ? nlohmann::json(*v) : nlohmann::json(nullptr); };
  return {
      {"event", "stop"},
      {"container", {{"id", r.container_id}, {"name", r.container_name}, {"runtime", r.runtime}}},
      {"plan", {{"profile", plan_profile_name(r.plan.profile)}, {"reason", r.plan.reason}, {"steps", format_plan(r.plan.steps)}}},
      {"drain",
       {{"ms", r.drain_ms},
        {"released_by", released_by_name(r.released_by)},
        {"requests_completed", r.requests_completed},
        {"inflight_at_release", r.inflight_at_release},
        {"open_inbound_at_release", r.open_inbound_at_release}}},
      {"sent", sent},
      {"exit",
       {{"outcome", stop_outcome_name(r.outcome)},
        {"ms_after_signal", opt(r.exit_ms_after_signal)},
        {"code", opt(r.exit.code)},
        {"killed_by", r.exit.killed_by ? nlohmann::json(signal_name(*r.exit.killed_by)) : nlohmann::json(nullptr)}}},
      {"total_ms", r.total_ms},
  };
}

std::string human_report(const StopReport& r) {
  std::string out = fmt::format("sigdrain: stopped {} ({}) in {} ms: {}\n", r.container_name.empty() ? r.container_id.substr(0, 12) : r.container_name,
                                r.runtime, r.total_ms, stop_outcome_name(r.outcome));
  std::string_view why = r.released_by == ReleasedBy::idle     ? "no request in flight for the quiet window"
                         : r.released_by == ReleasedBy::exited ? "the container exited on its own"
                                                               : "the drain deadline came first";
  out += fmt::format("  drain:  {} ms, {} requests completed, released: {} ({} in flight, {} connections open)\n", r.drain_ms,
                     r.requests_completed, why, r.inflight_at_release, r.open_inbound_at_release);
  out += fmt::format("  plan:   {} [{}]: {}\n", format_plan(r.plan.steps), plan_profile_name(r.plan.profile), r.plan.reason);
  for (const auto& s : r.sent)
    out += fmt::format("  sent:   {} to {}[{}] ({}) at {} ms{}\n", signal_name(s.signo), s.comm, s.pid, s.target, s.at_ms,
                       s.error.empty() ? "" : " failed: " + s.error);
  std::string how = r.exit.killed_by ? "killed by " + signal_name(*r.exit.killed_by)
                    : r.exit.code    ? fmt::format("exit code {}", *r.exit.code)
                                     : "exited";
  if (r.exit_ms_after_signal)
    out += fmt::format("  exit:   {}, {} ms after the first signal\n", how, *r.exit_ms_after_signal);
  else
    out += fmt::format("  exit:   {}\n", how);
  return out;
}

}  // namespace sigdrain

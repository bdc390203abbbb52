#include "stop/stop_session.hpp"

#include <algorithm>
#include <csignal>

#include <fmt/format.h>

#include "signals/signal_names.hpp"

namespace sigdrain {
std::vector<SentSignal> send_plan_step(const PlanStep& step, const std::vector<ProcessFacts>& processes,
                                       const std::vector<pid_t>& listeners, pid_t init_pid, int64_t at_ms,
                                       const std::function<Result<void>(pid_t, int)>& send) {
  std::vector<SentSignal> sent;
  for (pid_t pid : resolve_target(step.target, processes, init_pid, listeners)) {
    SentSignal s{step.signo, pid, "", format_target(step.target), at_ms, ""};
    if (const ProcessFacts* p = find_process(processes, pid)) s.comm = p->comm;
    if (auto r = send(pid, step.signo); !r) s.error = r.error().message;
    sent.push_back(std::move(s));
  }
  return sent;
}

StopReport run_stop(StopEnvironment& env, const StopPlan& plan, const DrainTimes& times, std::chrono::milliseconds quiet,
                    pid_t init_pid) {
  StopMachineSettings settings;
  settings.plan = plan;
  settings.times = times;
  settings.quiet = quiet;
  settings.requests_completed_at_start = env.sample().requests_completed;
  settings.kill = KillAtTimeout::sigdrain_kills;
  StopMachine stop(std::move(settings));
  auto send = [&env](pid_t pid, int signo) { return env.send(pid, signo); };
  for (;;) {
    std::optional<DrainSample> sample;
    if (stop.draining()) {
      sample = env.sample();
      env.progress(*sample, times);
    }
    StopAction action = stop.next(sample ? sample->now : env.now(), sample);
    switch (action.kind) {
      case StopAction::Kind::wait:
        if (env.pause_until(action.until)) stop.exited(env.now(), env.exit_status());
        break;
      case StopAction::Kind::release:
        break;  // safe-stop holds nothing: the plan sends the first signal
      case StopAction::Kind::send: {
        auto listeners = action.step->target.kind == TargetKind::listeners ? env.listener_pids() : std::vector<pid_t>{};
        auto sent = send_plan_step(*action.step, env.processes(), listeners, init_pid, stop.ms_since_start(env.now()), send);
        stop.sent(env.now(), std::move(sent));
        break;
      }
      case StopAction::Kind::kill: {
        SentSignal s{SIGKILL, init_pid, "", "init", stop.ms_since_start(env.now()), ""};
        if (auto r = env.send(init_pid, SIGKILL); !r) s.error = r.error().message;
        stop.sent(env.now(), {std::move(s)});
        break;
      }
      case StopAction::Kind::done:
        return stop.report();
    }
  }
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

#include <unistd.h>

#include <cstdio>

#include <fmt/format.h>

#include "cli/commands.hpp"
#include "containers/resolver.hpp"
#include "daemon/control.hpp"
#include "policy/drain.hpp"
#include "policy/plan.hpp"
#include "proc/proc.hpp"
#include "signals/signal_names.hpp"
#include "stop/live_environment.hpp"
#include "stop/stop_session.hpp"
#include "trace/live_directory.hpp"
#include "util/json.hpp"

namespace sigdrain {
namespace {

PlanInputs plan_inputs(const SafeStopOptions& options, const ContainerInfo& info, std::vector<ProcessFacts> processes) {
  PlanInputs in;
  in.processes = std::move(processes);
  in.init_pid = info.init_pid;
  in.runtime_stop_signal = info.stop_signal.value_or(SIGTERM);
  in.labels = info.labels;
  in.explicit_plan = options.plan;
  if (options.signal) {
    auto signo = parse_signal(*options.signal);
    if (!signo) throw UserError(fmt::format("--signal {}: not a signal name or number (1-64)", *options.signal));
    in.explicit_signal = *signo;
  }
  return in;
}

void print_dry_run(const ContainerInfo& info, const StopPlan& plan, const std::vector<ProcessFacts>& processes,
                   std::chrono::milliseconds timeout, std::chrono::milliseconds quiet, const DrainTimes& times,
                   std::optional<CgroupStats> stats, bool json) {
  auto ms = [&](Clock::time_point t) { return std::chrono::duration_cast<std::chrono::milliseconds>(t - times.start).count(); };
  const int64_t min_drain_ms = std::max<int64_t>(ms(times.earliest_release), 0);  // the epoch: no min-drain
  nlohmann::json targets = nlohmann::json::array();
  for (const auto& step : plan.steps) {
    if (step.signo == 0) continue;
    for (pid_t pid : resolve_target(step.target, processes, info.init_pid, {})) {
      for (const auto& p : processes) {
        if (p.pid != pid) continue;
        targets.push_back({{"signal", signal_name(step.signo)}, {"target", format_target(step.target)}, {"pid", pid},
                           {"comm", p.comm}, {"disposition", std::string(disposition_name(p.masks.disposition(step.signo)))}});
      }
    }
  }
  nlohmann::json j = {
      {"event", "dry-run"},
      {"container", {{"id", info.id}, {"name", info.name}, {"runtime", std::string(runtime_name(info.runtime))}}},
      {"plan", {{"profile", plan_profile_name(plan.profile)}, {"reason", plan.reason}, {"steps", format_plan(plan.steps)}}},
      {"targets", targets},
      {"timeout_ms", timeout.count()},
      {"quiet_ms", quiet.count()},
      {"drain_deadline_ms", ms(times.drain_deadline)},
      {"min_drain_ms", min_drain_ms},
      {"inflight", stats ? nlohmann::json(std::max<int64_t>(stats->inflight, 0)) : nlohmann::json(nullptr)},
      {"open_inbound", stats ? nlohmann::json(std::max<int64_t>(stats->open_inbound, 0)) : nlohmann::json(nullptr)},
  };
  if (json) {
    std::puts(json_text(j).c_str());
    return;
  }
  std::printf("would stop %s (%s), nothing is changed:\n", info.name.c_str(), j["container"]["runtime"].get<std::string>().c_str());
  std::printf("  plan:     %s [%s]: %s\n", format_plan(plan.steps).c_str(), std::string(plan_profile_name(plan.profile)).c_str(),
              plan.reason.c_str());
  for (const auto& t : targets)
    std::printf("  target:   %s to %s[%d] (%s), its disposition: %s\n", t["signal"].get<std::string>().c_str(),
                t["comm"].get<std::string>().c_str(), t["pid"].get<int>(), t["target"].get<std::string>().c_str(),
                t["disposition"].get<std::string>().c_str());
  std::printf("  drain:    quiet window %lld ms, deadline %lld ms, SIGKILL at %lld ms%s\n", static_cast<long long>(quiet.count()),
              static_cast<long long>(ms(times.drain_deadline)), static_cast<long long>(timeout.count()),
              min_drain_ms > 0 ? fmt::format(", min-drain {} ms", min_drain_ms).c_str() : "");
  if (stats)
    std::printf("  now:      %lld in flight, %lld connections open (seen since sigdrain started)\n",
                static_cast<long long>(std::max<int64_t>(stats->inflight, 0)), static_cast<long long>(std::max<int64_t>(stats->open_inbound, 0)));
}

}  // namespace

int run_safe_stop(const SafeStopOptions& options) {
  set_libbpf_verbose(options.verbose);
  if (::geteuid() != 0) throw UserError("safe-stop needs root: it loads BPF programs and signals the container's processes");

  ProcFs proc;
  ContainerResolver resolver{HostRoots{}};
  ContainerInfo info = value_or_throw(resolver.find(options.container));
  if (!info.running || info.init_pid <= 0 || !proc.status(info.init_pid))
    throw UserError(fmt::format("container {} is not running", info.name.empty() ? info.id : info.name));

  LabelSettings labels = value_or_throw(parse_sigdrain_labels(info.labels));
  std::optional<std::chrono::milliseconds> asked;
  if (options.timeout_s) asked = std::chrono::milliseconds(static_cast<int64_t>(*options.timeout_s * 1000));
  const std::chrono::milliseconds timeout = stop_timeout(asked, info.stop_timeout_s, kDefaultStopTimeout);
  DrainSettings settings;
  settings.timeout = timeout;
  if (options.quiet_ms) settings.quiet = std::chrono::milliseconds(*options.quiet_ms);
  // No max_hold, no default_min_drain: those are the daemon's config; the labels apply as under the daemon.
  const StopDrain drain = value_or_throw(drain_for_stop(Clock::now(), labels, settings));
  const DrainTimes& times = drain.times;
  const std::chrono::milliseconds quiet = drain.quiet;

  auto env = value_or_throw(LiveStopEnvironment::make(info, proc, !options.json && ::isatty(STDERR_FILENO)));
  StopPlan plan = value_or_throw(choose_plan(plan_inputs(options, info, env->processes())));

  if (options.dry_run) {
    print_dry_run(info, plan, env->processes(), timeout, quiet, times, env->observer().cgroup_stats(info.cgroup_id), options.json);
    return kExitOk;
  }

  // A running daemon guards the container too: it lets go, or the plan's signals would be held. No daemon (a
  // system error: nothing listens) holds nothing; a socket path no daemon could listen on is the operator's to fix.
  auto reply = control_request(options.daemon_state_dir + "/control.sock", "unguard " + info.id);
  if (!reply && reply.error().code == 0) throw UserError(reply.error().message);
  if (reply && !*reply) throw UserError(reply->error().message);

  StopReport report = run_stop(*env, plan, times, quiet, info.init_pid);
  report.container_id = info.id;
  report.container_name = info.name;
  report.runtime = std::string(runtime_name(info.runtime));
  env->clear_progress();
  if (options.json)
    std::puts(json_text(to_json(report)).c_str());
  else
    std::fputs(human_report(report).c_str(), stdout);
  std::fflush(stdout);  // the report is out before the BPF programs are detached, which takes a moment
  return report.outcome == StopOutcome::killed ? kExitKilled : kExitOk;
}

}  // namespace sigdrain

#include <unistd.h>

#include <cstdio>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "cli/commands.hpp"
#include "containers/resolver.hpp"
#include "daemon/control.hpp"
#include "daemon/ps_entry.hpp"
#include "policy/drain.hpp"
#include "policy/explain.hpp"
#include "policy/plan.hpp"
#include "proc/proc.hpp"
#include "signals/signal_names.hpp"
#include "util/json.hpp"
#include "util/text.hpp"

namespace sigdrain {
namespace {

// A running daemon has watched the container's requests for long; without one they are unknown. A reply this
// sigdrain cannot read (another version's daemon) is said on stderr, and the count is unknown too.
std::optional<int64_t> inflight_from_daemon(const std::string& state_dir, const std::string& id) {
  auto reply = control_request(state_dir + "/control.sock", "ps");
  if (!reply || !*reply) return std::nullopt;
  auto entries = parse_ps_reply(reply->value());
  if (!entries) {
    std::fprintf(stderr, "sigdrain: %s\n", entries.error().message.c_str());
    return std::nullopt;
  }
  for (const PsEntry& e : *entries)
    if (e.id == id) return e.inflight;
  return std::nullopt;
}

}  // namespace

int run_check(const CheckOptions& options) {
  if (::geteuid() != 0) throw UserError("check needs root: it reads the runtimes' state and the container's processes");
  ProcFs proc;
  ContainerResolver resolver{HostRoots{}};
  ContainerInfo info = value_or_throw(resolver.find(options.container));
  if (!info.running || info.init_pid <= 0) throw UserError(fmt::format("container {} is not running", info.name));
  auto processes = process_tree(proc, info.init_pid);
  if (processes.empty()) throw UserError(fmt::format("container {}: its init (pid {}) is gone", info.name, info.init_pid));

  PlanInputs in;
  in.processes = processes;
  in.init_pid = info.init_pid;
  in.runtime_stop_signal = info.stop_signal.value_or(SIGTERM);
  in.labels = info.labels;
  StopPlan plan = value_or_throw(choose_plan(in));
  auto timeout = std::chrono::seconds(info.stop_timeout_s.value_or(static_cast<int>(kDefaultStopTimeout.count())));
  StopExplanation why = explain_plain_stop(in, plan, timeout);
  auto inflight = inflight_from_daemon(options.daemon_state_dir, info.id);
  const ProcessFacts& init = processes.front();

  nlohmann::json dispositions;
  for (int signo : {SIGTERM, SIGINT, SIGQUIT, SIGHUP})
    dispositions[signal_name(signo)] = std::string(disposition_name(init.masks.disposition(signo)));
  nlohmann::json j = {
      {"container", {{"id", info.id}, {"name", info.name}, {"runtime", std::string(runtime_name(info.runtime))}}},
      {"stop_signal", signal_name(in.runtime_stop_signal)},
      {"timeout_s", timeout.count()},
      {"init", {{"pid", init.pid}, {"comm", init.comm}, {"argv", init.argv}, {"dispositions", dispositions}}},
      {"processes", processes.size()},
      {"forwards", why.forwards},
      {"plain_stop", why.plain_stop},
      {"profile", plan_profile_name(plan.profile)},
      {"with_sigdrain", {{"plan", format_plan(plan.steps)}, {"reason", plan.reason}}},
      {"inflight", inflight ? nlohmann::json(*inflight) : nlohmann::json(nullptr)},
      {"advice", why.advice},
  };
  if (options.json) {
    std::puts(json_text(j).c_str());
    return kExitOk;
  }
  std::string argv;
  for (const auto& a : init.argv) argv += (argv.empty() ? "" : " ") + a;
  // Names, comm and argv are the container's bytes: escaped, so a terminal shows them and is not driven by them.
  std::printf("%s (%s): stop signal %s, timeout %lld s, %zu processes\n", printable_text(info.name).c_str(),
              std::string(runtime_name(info.runtime)).c_str(), signal_name(in.runtime_stop_signal).c_str(),
              static_cast<long long>(timeout.count()), processes.size());
  std::printf("  PID 1:          %s[%d]  %s\n", printable_text(init.comm).c_str(), init.pid, printable_text(argv).c_str());
  std::printf("  dispositions:   SIGTERM %s, SIGINT %s, SIGQUIT %s, SIGHUP %s\n",
              dispositions["SIGTERM"].get<std::string>().c_str(), dispositions["SIGINT"].get<std::string>().c_str(),
              dispositions["SIGQUIT"].get<std::string>().c_str(), dispositions["SIGHUP"].get<std::string>().c_str());
  std::printf("  signals:        %s\n", printable_text(why.forwards).c_str());
  std::printf("  a plain stop:   %s\n", printable_text(why.plain_stop).c_str());
  std::printf("  with sigdrain:  %s [%s]: %s\n", format_plan(plan.steps).c_str(), std::string(plan_profile_name(plan.profile)).c_str(),
              printable_text(plan.reason).c_str());
  if (inflight)
    std::printf("  in flight now:  %lld\n", static_cast<long long>(*inflight));
  else
    std::printf("  in flight now:  unknown (no sigdrain daemon is running to have watched it)\n");
  std::printf("  to change:      %s\n", printable_text(why.advice).c_str());
  return kExitOk;
}

}  // namespace sigdrain

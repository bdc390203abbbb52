#include "policy/explain.hpp"

#include <fmt/format.h>

#include "signals/signal_names.hpp"

namespace sigdrain {

StopExplanation explain_plain_stop(const PlanInputs& in, const StopPlan& plan, std::chrono::seconds timeout) {
  const std::string sig = signal_name(in.runtime_stop_signal);
  const std::string kill_after = fmt::format("the runtime SIGKILLs it after {} s, cutting whatever is in flight", timeout.count());
  const std::string drain_first =
      "run `sigdrain daemon` on the node (nothing else changes), or stop it with `sigdrain safe-stop`, so it is drained first";
  const ProcessFacts* init = find_process(in.processes, in.init_pid);
  const std::string init_name = init ? init->comm : "PID 1";
  StopExplanation e;
  e.forwards = "PID 1 serves itself";

  if (plan.profile == PlanProfile::no_handler) {
    e.plain_stop = fmt::format("{} is dropped: PID 1 ({}) has no handler and the kernel ignores default-action signals to "
                               "a namespace's init; {}",
                               sig, init_name, kill_after);
    e.advice = fmt::format("add a {} handler to the app, or {}; drained, SIGKILL is then safe at once", sig, drain_first);
  } else if (plan.profile == PlanProfile::wrapper) {
    e.forwards = fmt::format("PID 1 ({}) does not forward {} to its child", init_name, sig);
    e.plain_stop = fmt::format("{} reaches only the wrapper, which ignores it; {}", sig, kill_after);
    e.advice = fmt::format("`exec` the server from the shell (or use tini), or {}", drain_first);
  } else if (plan.profile == PlanProfile::uwsgi) {
    e.plain_stop = fmt::format("{} makes uWSGI reload brutally: requests in flight are cut, it keeps running, and {}", sig,
                               kill_after);
    e.advice = "set the stop signal to SIGINT (or SIGQUIT) and drain first: " + drain_first;
  } else if (plan.profile == PlanProfile::nginx || plan.profile == PlanProfile::php_fpm) {
    e.plain_stop = fmt::format("{} is {}'s fast shutdown: requests in flight are cut", sig, plan_profile_name(plan.profile));
    e.advice = "set the stop signal to SIGQUIT (graceful) and drain first: " + drain_first;
  } else if (plan.profile == PlanProfile::httpd) {
    e.plain_stop = fmt::format("{} stops Apache at once: requests in flight are cut", sig);
    e.advice = "set the stop signal to SIGWINCH (graceful-stop) and drain first: " + drain_first;
  } else if (plan.profile == PlanProfile::supervisord) {
    e.forwards = "supervisord forwards its own stopsignal (per program) to its programs";
    e.plain_stop = fmt::format("supervisord stops its programs with their configured stopsignal, which may only reload them "
                               "(uWSGI on HUP); then {}",
                               kill_after);
    e.advice = "give each program its graceful stopsignal and a stopwaitsecs below the timeout, or " + drain_first;
  } else {
    e.plain_stop = fmt::format("{} runs {}'s handler: whether requests in flight finish, and whether it stops accepting "
                               "while a load balancer still sends traffic, is up to the app; {} if it has not exited",
                               sig, init_name, kill_after);
    e.advice = drain_first;
  }
  if (init && plan.steps.size() == 1 && plan.steps[0].target.kind == TargetKind::children && plan.profile != PlanProfile::wrapper)
    e.forwards = fmt::format("PID 1 ({}) stands in front of the server; sigdrain signals the server directly", init_name);
  return e;
}

}  // namespace sigdrain

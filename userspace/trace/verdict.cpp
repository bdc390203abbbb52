#include "trace/verdict.hpp"

#include <csignal>

#include <fmt/format.h>

#include "observer/bpf_events.hpp"
#include "signals/signal_names.hpp"

namespace sigdrain {
namespace {

bool default_is_fatal(int signo) {
  switch (signo) {
    case SIGCHLD: case SIGCONT: case SIGURG: case SIGWINCH:
    case SIGSTOP: case SIGTSTP: case SIGTTIN: case SIGTTOU:
      return false;
    default:
      return true;
  }
}

}  // namespace

std::string signal_verdict(const SignalFacts& f) {
  const std::string name = signal_name(f.signo);
  if (f.escalation_after_ms)
    return fmt::format("escalation: SIGKILL {} ms after the stop signal; the process had not exited", *f.escalation_after_ms);
  switch (f.result) {
    case SIGDRAIN_RESULT_IGNORED:
      if (f.target_is_namespace_init && f.disposition != Disposition::ignore)
        return f.target_in_container
                   ? "ignored: PID 1 has no handler, the runtime will SIGKILL it after its timeout"
                   : "ignored: PID 1 of its namespace has no handler for it";
      if (f.disposition == Disposition::ignore) return fmt::format("ignored: the process ignores {} (SIG_IGN)", name);
      // A fatal signal is dropped at generation when the process is already exiting: an earlier fatal signal or
      // exit_group() decided its end (a SIGKILL microseconds after a SIGTERM that kills is not the cause).
      if (default_is_fatal(f.signo))
        return f.disposition ? "ignored: the process is already exiting (an earlier fatal signal or exit)"
                             : "ignored: the process ignores it or is already exiting";
      return "ignored: the default action for it is to do nothing";
    case SIGDRAIN_RESULT_ALREADY_PENDING:
      return fmt::format("merged: a {} was already pending", name);
    case SIGDRAIN_RESULT_OVERFLOW_FAIL:
      return "lost: the real-time signal queue is full";
    case SIGDRAIN_RESULT_LOSE_INFO:
      return "delivered without its siginfo (queue full)";
    default:
      break;
  }
  if (f.signo == SIGKILL) return "delivered: SIGKILL cannot be caught, the process dies";
  if (f.signo == SIGSTOP) return "delivered: the process stops";
  if (!f.disposition) return "delivered; disposition unknown (not known to sigdrain at that moment)";
  switch (*f.disposition) {
    case Disposition::handler:
      return f.server_note ? "delivered: a handler will run, but " + *f.server_note : "delivered: a handler will run";
    case Disposition::blocked: return "delivered: blocked, stays pending until unblocked";
    case Disposition::ignore: return "delivered: ignored by the process";
    case Disposition::default_action:
      return default_is_fatal(f.signo) ? "delivered: no handler, the default action ends the process"
                                       : "delivered: no handler, the default action does nothing";
  }
  return "delivered";
}

std::string deliver_verdict(int signo, uint32_t handler_class) {
  switch (handler_class) {
    case SIGDRAIN_HANDLER_CATCH: return "handler runs";
    case SIGDRAIN_HANDLER_IGNORE: return "discarded (SIG_IGN)";
    default:
      return default_is_fatal(signo) ? "default action: the process ends" : "default action: nothing happens";
  }
}

std::string exit_verdict(const ExitFacts& f) {
  std::string how;
  switch (f.cause) {
    case SIGDRAIN_EXIT_CODE: how = fmt::format("exited with code {}", f.value); break;
    case SIGDRAIN_EXIT_SIGNAL: how = fmt::format("killed by {}", signal_name(static_cast<int>(f.value))); break;
    // Neither an exit code nor a fatal delivery was seen before the exit event (on kernels whose sched_process_exit
    // has no group_dead, the main thread's exit can come before another thread's delivery): not "exited".
    default: how = "ended, how was not seen"; break;
  }
  if (f.after_signal_ms && f.after_signal != 0)
    how += fmt::format(", {} ms after {}", *f.after_signal_ms, signal_name(f.after_signal));
  return how;
}

}  // namespace sigdrain

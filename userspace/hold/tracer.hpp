// A thin seam over ptrace(2) so the hold engine's state machine can be driven by a scripted fake in unit tests.
//
// Every call must come from one thread: ptrace requests are only accepted from the thread that attached.
#pragma once

#include <signal.h>
#include <sys/ptrace.h>
#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <optional>
#include <set>
#include <variant>

#include "util/result.hpp"

namespace sigdrain {

// Options the hold engine seizes with. TRACECLONE: new threads are traced from their first instruction, so a
// signal can never reach an untraced thread of a guarded process. TRACEEXEC: an exec is reported as one
// event (and a non-leader exec's tid change is announced) instead of a bare SIGTRAP. No TRACEEXIT: an exit
// stop would only delay exits (SIGKILL included); the exit itself is reported anyway. No EXITKILL: a daemon
// crash must leave its tracees running (the kernel detaches them), not kill them. No TRACEFORK: the engine
// guards processes; new processes are the caller's to attach.
inline constexpr unsigned long kHoldTraceOptions = PTRACE_O_TRACECLONE | PTRACE_O_TRACEEXEC;

// A thread stopped in a signal-delivery-stop: it is about to act on `signo`; resuming with 0 suppresses it.
struct SignalStop {
  pid_t tid;
  int signo;
};
// A thread stopped in a group-stop (SIGSTOP/SIGTSTP/SIGTTIN/SIGTTOU): it must stay stopped until SIGCONT,
// so it is restarted with PTRACE_LISTEN, never PTRACE_CONT.
struct GroupStop {
  pid_t tid;
  int signo;
};
// A PTRACE_EVENT_* stop. `message` is PTRACE_GETEVENTMSG: the new thread for CLONE, the former tid for EXEC.
// PTRACE_EVENT_STOP with a non-stop signal is an interrupt stop, a new thread's first stop, or a listening
// thread woken by SIGCONT.
struct EventStop {
  pid_t tid;
  int event;
  unsigned long message;
};
// A traced thread is gone (reaped by this wait); `status` is the raw wait status.
struct ThreadExited {
  pid_t tid;
  int status;
};
using TraceStop = std::variant<SignalStop, GroupStop, EventStop, ThreadExited>;

// Decodes a waitpid() status of a PTRACE_SEIZEd tracee. EventStop::message is left 0.
TraceStop decode_wait_status(pid_t tid, int status);

class Tracer {
 public:
  virtual ~Tracer() = default;
  virtual Result<void> seize(pid_t tid, unsigned long options) = 0;     // PTRACE_SEIZE
  virtual Result<void> resume(pid_t tid, int signo) = 0;                 // PTRACE_CONT; signo 0 suppresses
  virtual Result<void> listen(pid_t tid) = 0;                            // PTRACE_LISTEN, for group-stops
  virtual Result<void> interrupt(pid_t tid) = 0;                         // PTRACE_INTERRUPT, to stop for a detach
  virtual Result<void> detach(pid_t tid, int signo) = 0;                 // PTRACE_DETACH
  virtual Result<siginfo_t> siginfo(pid_t tid) = 0;                      // PTRACE_GETSIGINFO
  virtual Result<void> set_siginfo(pid_t tid, const siginfo_t& info) = 0;  // PTRACE_SETSIGINFO
  // Queues `signo` to the process with si_code SI_QUEUE and `cookie` in si_value.sival_ptr.
  virtual Result<void> send_marked(pid_t tgid, int signo, std::uint64_t cookie) = 0;
  // The next stop or exit of a tracee, or nullopt when none came within `timeout`.
  virtual std::optional<TraceStop> wait(std::chrono::milliseconds timeout) = 0;
};

// The real tracer. wait() never reaps a child that is not its tracee (the daemon may run other children, and
// their owners must still get their statuses): it peeks with waitid(WNOWAIT) and only consumes tracees.
// There is no way to block on "a tracee changed state" with a timeout, so wait() polls with a short sleep
// (1..8 ms backoff); a tracee stays in its stop meanwhile, which only delays that one thread.
class LinuxTracer final : public Tracer {
 public:
  Result<void> seize(pid_t tid, unsigned long options) override;
  Result<void> resume(pid_t tid, int signo) override;
  Result<void> listen(pid_t tid) override;
  Result<void> interrupt(pid_t tid) override;
  Result<void> detach(pid_t tid, int signo) override;
  Result<siginfo_t> siginfo(pid_t tid) override;
  Result<void> set_siginfo(pid_t tid, const siginfo_t& info) override;
  Result<void> send_marked(pid_t tgid, int signo, std::uint64_t cookie) override;
  std::optional<TraceStop> wait(std::chrono::milliseconds timeout) override;

 private:
  std::optional<TraceStop> take(pid_t tid);  // waitpid(tid, WNOHANG) of one tracee, decoded
  bool is_tracee(pid_t pid) const;

  std::set<pid_t> tracees_;  // seized, or announced by a CLONE event
};

}  // namespace sigdrain

#include "hold/tracer.hpp"

#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <thread>

#include "proc/pidfd.hpp"
#include "util/fd.hpp"

namespace sigdrain {
namespace {

bool is_stop_signal_for_group_stop(int signo) {
  return signo == SIGSTOP || signo == SIGTSTP || signo == SIGTTIN || signo == SIGTTOU;
}

void* as_data(unsigned long value) { return reinterpret_cast<void*>(value); }

Result<void> ptrace_call(__ptrace_request request, pid_t tid, void* addr, void* data, const char* what) {
  if (::ptrace(request, tid, addr, data) == -1) return Error::sys(errno, fmt::format("{} thread {}", what, tid));
  return {};
}

}  // namespace

TraceStop decode_wait_status(pid_t tid, int status) {
  if (WIFEXITED(status) || WIFSIGNALED(status)) return ThreadExited{tid, status};
  const int signo = WSTOPSIG(status);
  const int event = status >> 16;
  if (event == 0) return SignalStop{tid, signo};
  // With PTRACE_SEIZE a group-stop is a PTRACE_EVENT_STOP carrying the stop signal; any other signal there
  // (SIGTRAP) marks an interrupt stop, a new thread's first stop or a listening thread's wake-up.
  if (event == PTRACE_EVENT_STOP && is_stop_signal_for_group_stop(signo)) return GroupStop{tid, signo};
  return EventStop{tid, event, 0};
}

Result<void> LinuxTracer::seize(pid_t tid, unsigned long options) {
  auto r = ptrace_call(PTRACE_SEIZE, tid, nullptr, as_data(options), "cannot seize");
  if (r) tracees_.insert(tid);
  return r;
}

Result<void> LinuxTracer::resume(pid_t tid, int signo) {
  return ptrace_call(PTRACE_CONT, tid, nullptr, as_data(static_cast<unsigned long>(signo)), "cannot resume");
}

Result<void> LinuxTracer::listen(pid_t tid) {
  return ptrace_call(PTRACE_LISTEN, tid, nullptr, nullptr, "cannot listen on");
}

Result<void> LinuxTracer::interrupt(pid_t tid) {
  return ptrace_call(PTRACE_INTERRUPT, tid, nullptr, nullptr, "cannot interrupt");
}

Result<void> LinuxTracer::detach(pid_t tid, int signo) {
  auto r = ptrace_call(PTRACE_DETACH, tid, nullptr, as_data(static_cast<unsigned long>(signo)), "cannot detach from");
  if (r) tracees_.erase(tid);
  return r;
}

Result<siginfo_t> LinuxTracer::siginfo(pid_t tid) {
  siginfo_t info{};
  if (auto r = ptrace_call(PTRACE_GETSIGINFO, tid, nullptr, &info, "cannot read the siginfo of"); !r) return r.error();
  return info;
}

Result<void> LinuxTracer::set_siginfo(pid_t tid, const siginfo_t& info) {
  siginfo_t copy = info;
  return ptrace_call(PTRACE_SETSIGINFO, tid, nullptr, &copy, "cannot set the siginfo of");
}

Result<void> LinuxTracer::send_marked(pid_t tgid, int signo, std::uint64_t cookie) {
  // A pidfd rather than kill(): the signal can only reach the process it was opened for. (While the engine
  // traces the process its pid cannot be reused anyway: the zombie waits for the tracer's wait.)
  UniqueFd pidfd = open_pidfd(tgid);
  if (!pidfd) return Error::sys(errno, fmt::format("cannot open PID {}", tgid));
  siginfo_t info{};
  info.si_signo = signo;
  info.si_code = SI_QUEUE;
  info.si_pid = ::getpid();
  info.si_uid = ::getuid();
  info.si_value.sival_ptr = reinterpret_cast<void*>(static_cast<std::uintptr_t>(cookie));
  return send_through_pidfd(pidfd.get(), tgid, signo, &info);
}

bool LinuxTracer::is_tracee(pid_t pid) const { return tracees_.contains(pid); }

std::optional<TraceStop> LinuxTracer::take(pid_t tid) {
  int status = 0;
  pid_t got = ::waitpid(tid, &status, __WALL | WNOHANG);
  if (got == -1 && errno == ECHILD) tracees_.erase(tid);  // no longer ours (detached or gone)
  if (got <= 0) return std::nullopt;
  TraceStop stop = decode_wait_status(tid, status);
  if (auto* exited = std::get_if<ThreadExited>(&stop)) {
    tracees_.erase(exited->tid);
  } else if (auto* event = std::get_if<EventStop>(&stop);
             event && (event->event == PTRACE_EVENT_CLONE || event->event == PTRACE_EVENT_EXEC)) {
    unsigned long message = 0;
    if (::ptrace(PTRACE_GETEVENTMSG, tid, nullptr, &message) == 0) event->message = message;
    if (event->event == PTRACE_EVENT_CLONE) tracees_.insert(static_cast<pid_t>(message));
    if (event->event == PTRACE_EVENT_EXEC && static_cast<pid_t>(message) != tid) {
      tracees_.erase(static_cast<pid_t>(message));  // the execing thread now runs under the leader's tid
      tracees_.insert(tid);
    }
  }
  return stop;
}

std::optional<TraceStop> LinuxTracer::wait(std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  auto nap = std::chrono::milliseconds(1);
  for (;;) {
    siginfo_t peeked{};
    if (::waitid(P_ALL, 0, &peeked, WEXITED | WNOHANG | WNOWAIT | __WALL) == 0 && peeked.si_pid != 0) {
      if (is_tracee(peeked.si_pid)) {
        if (auto stop = take(peeked.si_pid)) return stop;
      } else {
        // A child that is not ours is first in line; it stays for its owner. Ask our tracees one by one.
        const std::set<pid_t> tracees = tracees_;
        for (pid_t tid : tracees)
          if (auto stop = take(tid)) return stop;
      }
    }
    const auto now = std::chrono::steady_clock::now();
    if (now >= deadline) return std::nullopt;
    std::this_thread::sleep_for(std::min<std::chrono::steady_clock::duration>(nap, deadline - now));
    nap = std::min(nap * 2, std::chrono::milliseconds(8));
  }
}

}  // namespace sigdrain

#include "hold/gate_watchdog.hpp"

#include <poll.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <csignal>
#include <utility>

#include "hold/stop_gate.hpp"
#include "observer/observer.hpp"
#include "proc/pidfd.hpp"

namespace sigdrain {
namespace {


// Closes every fd of this process but `keep_a` and `keep_b`.
void close_all_except(int keep_a, int keep_b) {
  int lo = std::min(keep_a, keep_b), hi = std::max(keep_a, keep_b);
  if (lo > 0) ::syscall(SYS_close_range, 0u, static_cast<unsigned>(lo - 1), 0u);
  if (hi > lo + 1) ::syscall(SYS_close_range, static_cast<unsigned>(lo + 1), static_cast<unsigned>(hi - 1), 0u);
  ::syscall(SYS_close_range, static_cast<unsigned>(hi + 1), ~0u, 0u);
}

[[noreturn]] void watch(int map_fd, pid_t daemon, std::chrono::milliseconds bound) {
  ::prctl(PR_SET_NAME, "sigdrain-gatewd");
  sigset_t none;
  sigemptyset(&none);
  ::sigprocmask(SIG_SETMASK, &none, nullptr);  // the daemon's blocked SIGCHLD means nothing here
  // A terminal's Ctrl-C or a group-wide SIGTERM must not take the watchdog down with a daemon that may hang in its
  // shutdown: it ends when the daemon is gone (or by the owner's SIGKILL).
  for (int signo : {SIGINT, SIGTERM, SIGHUP, SIGQUIT}) ::signal(signo, SIG_IGN);
  UniqueFd daemon_fd = open_pidfd(daemon);
  if (::getppid() != daemon) daemon_fd.reset();  // the daemon died before we could watch it
  close_all_except(map_fd, daemon_fd ? daemon_fd.get() : map_fd);
  const auto tick = std::chrono::duration_cast<std::chrono::milliseconds>(bound / 5);
  for (;;) {
    bool daemon_gone = !daemon_fd;
    if (!daemon_gone) {
      pollfd p{daemon_fd.get(), POLLIN, 0};
      daemon_gone = ::poll(&p, 1, static_cast<int>(tick.count())) > 0;  // readable: the daemon exited
    }
    // Its BPF link closed with its last fd, so once it is gone nothing new is stopped: one sweep of all suffices.
    const auto now = monotonic_now_ns();
    for (const auto& g : read_gated(map_fd))
      if (daemon_gone || gate_overdue(g, now, bound)) (void)continue_gated(map_fd, g);
    if (daemon_gone) ::_exit(0);
  }
}

}  // namespace

Result<GateWatchdog> GateWatchdog::start(int gated_map_fd, std::chrono::milliseconds bound) {
  pid_t daemon = ::getpid();
  pid_t pid = ::fork();
  if (pid < 0) return Error::sys(errno, "cannot fork the stop gate's watchdog");
  if (pid == 0) watch(gated_map_fd, daemon, bound);
  return GateWatchdog(pid);
}

GateWatchdog::GateWatchdog(GateWatchdog&& o) noexcept : pid_(std::exchange(o.pid_, -1)) {}

GateWatchdog& GateWatchdog::operator=(GateWatchdog&& o) noexcept {
  if (this != &o) {
    this->~GateWatchdog();
    pid_ = std::exchange(o.pid_, -1);
  }
  return *this;
}

GateWatchdog::~GateWatchdog() {
  if (pid_ <= 0) return;
  ::kill(pid_, SIGKILL);
  while (::waitpid(pid_, nullptr, __WALL) < 0 && errno == EINTR) {
  }
  pid_ = -1;
}

}  // namespace sigdrain

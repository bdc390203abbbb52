#include "proc/pidfd.hpp"

#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>

#include <fmt/format.h>

namespace sigdrain {

UniqueFd open_pidfd(pid_t pid) { return UniqueFd(static_cast<int>(::syscall(SYS_pidfd_open, pid, 0))); }

Result<void> send_through_pidfd(int pidfd, pid_t pid, int signo, siginfo_t* info) {
  if (::syscall(SYS_pidfd_send_signal, pidfd, signo, info, 0) != 0)
    return Error::sys(errno, fmt::format("cannot send signal {} to pid {}", signo, pid));
  return {};
}

}  // namespace sigdrain

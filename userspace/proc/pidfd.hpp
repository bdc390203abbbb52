// Signals through pidfds: a pidfd names one process, never a later one that got the same pid.
#pragma once

#include <signal.h>
#include <sys/types.h>

#include "proc/proc.hpp"
#include "util/fd.hpp"
#include "util/result.hpp"

namespace sigdrain {

// Invalid (errno set) when the process is gone.
UniqueFd open_pidfd(pid_t pid);

// Sends `signo` through `pidfd` with an optional siginfo (nullptr: as kill() would).
Result<void> send_through_pidfd(int pidfd, pid_t pid, int signo, siginfo_t* info = nullptr);

}  // namespace sigdrain

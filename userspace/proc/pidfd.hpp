// Signals through pidfds: a pidfd names one process, never a later one that got the same pid.
#pragma once

#include <signal.h>
#include <sys/types.h>

#include <string>

#include "proc/proc.hpp"
#include "util/fd.hpp"
#include "util/result.hpp"

namespace sigdrain {

// Invalid (errno set) when the process is gone.
UniqueFd open_pidfd(pid_t pid);

// Sends `signo` through `pidfd` with an optional siginfo (nullptr: as kill() would).
Result<void> send_through_pidfd(int pidfd, pid_t pid, int signo, siginfo_t* info = nullptr);

// Sends `signo` to `pid` only while it is a process of container `container_id`. The pidfd pins the process
// across the /proc/<pid>/cgroup read: if it died meanwhile the send fails instead of hitting a newcomer.
// `pinned` (optional) is a pidfd already held for `pid`, e.g. the init's since the stop began.
Result<void> signal_in_container(const ProcFs& proc, const std::string& container_id, pid_t pid, int signo,
                                 int pinned = -1);

}  // namespace sigdrain

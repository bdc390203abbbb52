// Signals to a container's processes, through pidfds (proc/pidfd.hpp) so that a pid reused meanwhile is not hit.
#pragma once

#include <sys/types.h>

#include <string>

#include "proc/proc.hpp"
#include "util/result.hpp"

namespace sigdrain {

// Sends `signo` to `pid` only while it is a process of container `container_id`. The pidfd pins the process
// across the /proc/<pid>/cgroup read: if it died meanwhile the send fails instead of hitting a newcomer.
// `pinned` (optional) is a pidfd already held for `pid`, e.g. the init's since the stop began.
Result<void> signal_in_container(const ProcFs& proc, const std::string& container_id, pid_t pid, int signo,
                                 int pinned = -1);

}  // namespace sigdrain

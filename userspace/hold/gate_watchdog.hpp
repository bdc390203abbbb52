// The stop gate's watchdog: a tiny process forked by the daemon before it starts any thread, holding only the
// gated map's fd and a pidfd of the daemon. It continues every gated runtime process that stays stopped longer
// than `bound` (a daemon that is SIGSTOPped, stuck or slow), and all of them at once when the daemon dies, then
// exits. So a runtime process is never left stopped, whatever happens to the daemon.
#pragma once

#include <sys/types.h>

#include <chrono>

#include "util/result.hpp"

namespace sigdrain {

inline constexpr std::chrono::milliseconds kGateWatchdogBound{250};

class GateWatchdog {
 public:
  // Forks the watchdog. The caller must be single-threaded (fork copies only the calling thread). In the child
  // every fd but the map's is closed, so it keeps no BPF link, lock or socket of the daemon alive.
  static Result<GateWatchdog> start(int gated_map_fd, std::chrono::milliseconds bound = kGateWatchdogBound);
  GateWatchdog(GateWatchdog&& o) noexcept;
  GateWatchdog& operator=(GateWatchdog&& o) noexcept;
  GateWatchdog(const GateWatchdog&) = delete;
  GateWatchdog& operator=(const GateWatchdog&) = delete;
  ~GateWatchdog();  // ends the watchdog (the gate's owner continues what is left itself)

  pid_t pid() const { return pid_; }

 private:
  explicit GateWatchdog(pid_t pid) : pid_(pid) {}
  pid_t pid_ = -1;
};

}  // namespace sigdrain

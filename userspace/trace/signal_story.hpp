// Remembers the last stop signal sent to each process, so a later SIGKILL reads as an escalation and an exit
// as "N ms after SIGTERM"; and the last signal of any kind, so the exit of a process that a SIGUSR1 handler
// ended is shown too ("N ms after SIGUSR1"). Bounded: the oldest entries are forgotten first.
#pragma once

#include <cstdint>
#include <optional>
#include <unordered_map>

namespace sigdrain {

class SignalStory {
 public:
  explicit SignalStory(size_t capacity = 65536) : capacity_(capacity) {}

  struct StopSignal {
    int signo = 0;
    uint64_t time_ns = 0;
  };

  // Records a generated signal; for a SIGKILL after a stop signal to the same process, returns the gap in ms.
  std::optional<int64_t> on_signal(uint32_t tgid, int signo, uint64_t time_ns);
  std::optional<StopSignal> last_stop_signal(uint32_t tgid) const;
  // The signal an exit is told against: the last stop signal, or else the last signal of any kind.
  std::optional<StopSignal> signal_before_exit(uint32_t tgid) const;
  void forget(uint32_t tgid) { last_.erase(tgid); }
  size_t size() const { return last_.size(); }

 private:
  size_t capacity_;
  struct Seen {
    std::optional<StopSignal> stop;
    StopSignal any;
  };
  std::unordered_map<uint32_t, Seen> last_;
};

}  // namespace sigdrain

// The hold journal: one small JSON file per held stop signal under <state dir>/held/, written before the
// signal is suppressed and removed once it was delivered or its process is gone. A restarted daemon reads it
// and finishes what the previous one started, so a held signal survives the daemon's death.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

#include "util/result.hpp"

namespace sigdrain {

struct HoldRecord {
  std::string container_id;
  pid_t tgid = 0;
  uint64_t start_time = 0;  // /proc/<pid>/stat field 22: tells a recycled pid from the held process
  int signo = 0;
  int64_t held_at_ms = 0;         // wall clock, ms since the epoch
  int64_t drain_deadline_ms = 0;  // wall clock
  int64_t kill_at_ms = 0;         // wall clock: the runtime's SIGKILL is expected here
};

std::string to_json_text(const HoldRecord& r);
Result<HoldRecord> parse_hold_record(std::string_view json);

class Journal {
 public:
  // Creates <dir>/held with mode 0700; refuses a directory that is a symlink, not ours, or writable by others.
  static Result<Journal> open(std::string state_dir);

  // Durable before it returns (written to a temporary file, fsynced, renamed).
  Result<void> record(const HoldRecord& r);
  void remove(pid_t tgid, int signo);
  // Every readable record; unreadable or malformed files are reported in `problems` and removed.
  std::vector<HoldRecord> load(std::vector<std::string>& problems);
  const std::string& dir() const { return dir_; }

 private:
  explicit Journal(std::string dir) : dir_(std::move(dir)) {}
  std::string path_for(pid_t tgid, int signo) const;
  std::string dir_;
};

}  // namespace sigdrain

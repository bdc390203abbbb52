// One daemon per state directory: `<state>/daemon.lock`, an flock held for the daemon's life. The file says who
// holds it and whether that daemon is finishing (a first SIGTERM: it takes no new stops, finishes the drains in
// progress, then exits). A daemon that finds the lock held waits for a finishing holder, as a DaemonSet rollout
// starts the new pod while the old one finishes, and refuses to start beside one that is not finishing.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <functional>
#include <optional>
#include <string>
#include <string_view>

#include "util/fd.hpp"
#include "util/result.hpp"

namespace sigdrain {

// What the lock file says: "PID\n", then "finishing N\n" once its daemon is finishing N drains.
struct LockHolder {
  pid_t pid = 0;
  std::optional<int> finishing_drains;  // nullopt: not finishing
  bool operator==(const LockHolder&) const = default;
};
std::string format_lock_holder(const LockHolder& holder);
// nullopt for text that names no pid (an empty file: the holder has not written it yet).
std::optional<LockHolder> parse_lock_holder(std::string_view text);

// What a daemon that finds the lock held does next.
enum class LockWait { wait, keep_looking, refuse };
// A finishing holder is waited for; one that is not finishing is looked at for `grace` (a SIGTERM sent to it a
// moment ago may not have been acted on yet), then refused. `not_finishing_since`: when this holder was first
// seen not finishing.
LockWait decide_lock_wait(const std::optional<LockHolder>& holder, std::chrono::steady_clock::time_point not_finishing_since,
                          std::chrono::steady_clock::time_point now, std::chrono::milliseconds grace);

struct DaemonLockOptions {
  std::chrono::milliseconds grace{1000};
  std::chrono::milliseconds poll_interval{100};
};

class DaemonLock {
 public:
  using Log = std::function<void(const std::string&)>;
  // Takes the lock, waiting while a finishing daemon holds it (logged once per holder). Fails for a holder that
  // is not finishing: "another sigdrain daemon is running (pid N); refusing to start a second one".
  static Result<DaemonLock> take(const std::string& state_dir, const Log& log, DaemonLockOptions options = {});
  // Says in the file that this daemon is finishing `drains` drains, for a successor that waits.
  void mark_finishing(int drains);

 private:
  explicit DaemonLock(UniqueFd fd) : fd_(std::move(fd)) {}
  void write_holder(const LockHolder& holder);
  UniqueFd fd_;
};

}  // namespace sigdrain

#include "daemon/daemon_lock.hpp"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <thread>

#include <fmt/format.h>

#include "util/parse_number.hpp"

namespace sigdrain {
namespace {

using Clock = std::chrono::steady_clock;

// A prefix on purpose: what follows the number on its line is not this reader's to judge.
std::optional<int> leading_number(std::string_view text) {
  auto value = parse_leading_integer<int>(text);
  if (!value || *value < 0) return std::nullopt;
  return value;
}

std::string drains_text(int n) { return fmt::format("{} drain{}", n, n == 1 ? "" : "s"); }

}  // namespace

std::string format_lock_holder(const LockHolder& holder) {
  std::string text = fmt::format("{}\n", holder.pid);
  if (holder.finishing_drains) text += fmt::format("finishing {}\n", *holder.finishing_drains);
  return text;
}

std::optional<LockHolder> parse_lock_holder(std::string_view text) {
  const size_t eol = text.find('\n');
  auto pid = leading_number(text.substr(0, eol));
  if (!pid || *pid == 0) return std::nullopt;
  LockHolder holder{static_cast<pid_t>(*pid), std::nullopt};
  if (eol != std::string_view::npos) {
    constexpr std::string_view kFinishing = "finishing ";
    std::string_view rest = text.substr(eol + 1);
    if (rest.starts_with(kFinishing)) holder.finishing_drains = leading_number(rest.substr(kFinishing.size()));
  }
  return holder;
}

LockWait decide_lock_wait(const std::optional<LockHolder>& holder, Clock::time_point not_finishing_since,
                          Clock::time_point now, std::chrono::milliseconds grace) {
  if (holder && holder->finishing_drains) return LockWait::wait;
  return now - not_finishing_since < grace ? LockWait::keep_looking : LockWait::refuse;
}

Result<DaemonLock> DaemonLock::take(const std::string& state_dir, const Log& log, DaemonLockOptions options) {
  const std::string path = state_dir + "/daemon.lock";
  UniqueFd fd(::open(path.c_str(), O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600));
  if (!fd) return Error::sys(errno, fmt::format("cannot open {}", path));
  std::optional<pid_t> waited_for;     // the finishing holder this daemon logged that it waits for
  std::optional<pid_t> not_finishing;  // the holder last seen not finishing (0: the file named none)
  Clock::time_point not_finishing_since;
  for (;;) {
    if (::flock(fd.get(), LOCK_EX | LOCK_NB) == 0) {
      if (waited_for) log(fmt::format("daemon pid {} finished; starting", *waited_for));
      // Emptied first: a reader never takes a predecessor's "finishing" line for this daemon's.
      (void)!::ftruncate(fd.get(), 0);
      DaemonLock lock(std::move(fd));
      lock.write_holder(LockHolder{::getpid(), std::nullopt});
      return lock;
    }
    if (errno != EWOULDBLOCK) return Error::sys(errno, fmt::format("cannot lock {}", path));
    char buf[64] = {};
    ssize_t n = ::pread(fd.get(), buf, sizeof buf - 1, 0);
    auto holder = parse_lock_holder(std::string_view(buf, n > 0 ? static_cast<size_t>(n) : 0));
    const auto now = Clock::now();
    if (!holder || !holder->finishing_drains) {
      pid_t pid = holder ? holder->pid : 0;
      if (not_finishing != pid) {
        not_finishing = pid;
        not_finishing_since = now;
      }
    }
    switch (decide_lock_wait(holder, not_finishing_since, now, options.grace)) {
      case LockWait::refuse:
        return Error::msg(fmt::format("another sigdrain daemon is running (pid {}); refusing to start a second one",
                                      holder ? std::to_string(holder->pid) : "unknown"));
      case LockWait::wait:
        if (waited_for != holder->pid) {
          log(fmt::format("waiting for daemon pid {} to finish {} (it exits once they are done)", holder->pid,
                          drains_text(*holder->finishing_drains)));
          waited_for = holder->pid;
        }
        break;
      case LockWait::keep_looking:
        break;
    }
    std::this_thread::sleep_for(options.poll_interval);
  }
}

void DaemonLock::mark_finishing(int drains) { write_holder(LockHolder{::getpid(), drains}); }

// Written over the old text, then cut to length: marking "finishing" only appends to the pid line, so a reader
// never sees an empty file in between.
void DaemonLock::write_holder(const LockHolder& holder) {
  const std::string text = format_lock_holder(holder);
  (void)!::pwrite(fd_.get(), text.data(), text.size(), 0);
  (void)!::ftruncate(fd_.get(), static_cast<off_t>(text.size()));
}

}  // namespace sigdrain

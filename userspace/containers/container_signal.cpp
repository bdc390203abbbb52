#include "containers/container_signal.hpp"

#include <cerrno>

#include <fmt/format.h>

#include "containers/cgroup_path.hpp"
#include "proc/pidfd.hpp"

namespace sigdrain {

Result<void> signal_in_container(const ProcFs& proc, const std::string& container_id, pid_t pid, int signo, int pinned) {
  UniqueFd owned = pinned >= 0 ? UniqueFd() : open_pidfd(pid);
  int fd = pinned >= 0 ? pinned : owned.get();
  if (fd < 0) return Error::sys(errno, fmt::format("pid {} is gone", pid));
  auto cgroup = proc.cgroup_file(pid);
  auto ref = cgroup ? parse_proc_cgroup(*cgroup) : std::nullopt;
  if (!ref || ref->id != container_id) return Error::msg(fmt::format("pid {} is no longer in the container", pid));
  return send_through_pidfd(fd, pid, signo);
}

}  // namespace sigdrain

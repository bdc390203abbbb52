#include "containers/host_roots.hpp"

#include <linux/magic.h>
#include <sys/vfs.h>

namespace sigdrain {

std::string default_cgroup2_root() {
  struct statfs fs {};
  if (::statfs("/sys/fs/cgroup/unified", &fs) == 0 && fs.f_type == CGROUP2_SUPER_MAGIC) return "/sys/fs/cgroup/unified";
  return "/sys/fs/cgroup";
}

}  // namespace sigdrain

#include "observer/cgroup_changes.hpp"

#include <bpf/libbpf.h>

#include <cerrno>

#include "cgroups.skel.h"
#include "observer/kernel_env.hpp"
#include "util/fd.hpp"

namespace sigdrain {

struct CgroupChangeCounter::Impl {
  Owned<cgroups_bpf, &cgroups_bpf__destroy> skel;
};

Result<std::unique_ptr<CgroupChangeCounter>> CgroupChangeCounter::start() {
  if (auto tracefs = ensure_tracefs(); !tracefs) return tracefs.error();
  auto impl = std::make_unique<Impl>();
  impl->skel.reset(cgroups_bpf__open_and_load());
  if (!impl->skel) return Error::sys(errno, "cannot load the cgroup_mkdir/cgroup_rmdir tracepoint programs");
  if (int err = cgroups_bpf__attach(impl->skel.get()))
    return Error::sys(-err, "cannot attach to the cgroup:cgroup_mkdir/cgroup_rmdir tracepoints");
  return std::unique_ptr<CgroupChangeCounter>(new CgroupChangeCounter(std::move(impl)));
}

CgroupChangeCounter::CgroupChangeCounter(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
CgroupChangeCounter::~CgroupChangeCounter() = default;

uint64_t CgroupChangeCounter::count() const {
  return __atomic_load_n(&impl_->skel->bss->cgroup_changes, __ATOMIC_ACQUIRE);
}

}  // namespace sigdrain

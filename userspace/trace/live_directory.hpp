// ProcessDirectory backed by /proc and the container resolver, with a memory of processes that have exited,
// so a SIGKILL or exit event still names the container of a process that is already gone.
#pragma once

#include <unordered_map>

#include "containers/resolver.hpp"
#include "proc/proc.hpp"
#include "trace/record_builder.hpp"

namespace sigdrain {

class LiveProcessDirectory : public ProcessDirectory {
 public:
  LiveProcessDirectory(const ProcFs& proc, ContainerResolver& resolver) : proc_(proc), resolver_(resolver) {}

  std::optional<ProcessView> process(uint32_t pid) override;
  std::optional<uint32_t> tgid_of(uint32_t pid) override;
  std::optional<ContainerView> container_of_cgroup(uint64_t cgroup_id) override;
  std::optional<uint64_t> cgroup_of(uint32_t pid) override;

 private:
  struct Known {
    ProcessView view;
    uint32_t tgid = 0;
    std::optional<uint64_t> cgroup_id;
  };
  const Known* lookup(uint32_t pid);

  static constexpr size_t kMaxKnown = 32768;
  const ProcFs& proc_;
  ContainerResolver& resolver_;
  std::unordered_map<uint32_t, Known> known_;
};

ContainerView container_view(const ContainerInfo& info);

}  // namespace sigdrain

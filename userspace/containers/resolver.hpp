// Maps cgroup ids (what BPF reports), pids and operator-given names to containers.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "containers/cgroup_path.hpp"
#include "containers/host_roots.hpp"
#include "containers/runtime_state.hpp"
#include "util/result.hpp"

namespace sigdrain {

struct ContainerInfo {
  Runtime runtime = Runtime::unknown;
  std::string id;
  std::string name;  // empty when no runtime knows the container
  std::string pod_name, pod_namespace, pod_uid;
  std::string cgroup_path;  // the container's own cgroup, relative to the cgroup v2 root; empty when not running
  uint64_t cgroup_id = 0;   // inode of that cgroup v2 directory = bpf_get_current_cgroup_id(); 0 when unknown
  pid_t init_pid = 0;
  std::map<std::string, std::string> labels;  // labels + OCI annotations
  std::optional<int> stop_timeout_s;
  std::optional<int> stop_signal;
  bool running = false;
};

// Not thread-safe: one resolver per thread, or a lock around it.
class ContainerResolver {
 public:
  // `runtime_state` nullptr: read the runtimes' state as HostRuntimeState(roots) does.
  explicit ContainerResolver(HostRoots roots, std::unique_ptr<RuntimeStateSource> runtime_state = nullptr);

  // The container whose cgroup (or a descendant of it) has this id. Cached; nullopt = host or not a container.
  std::optional<ContainerInfo> by_cgroup_id(uint64_t cgroup_id);
  // The container process `pid` runs in, from /proc/<pid>/cgroup; nullopt = host, or no such process.
  std::optional<ContainerInfo> by_pid(pid_t pid);
  // A container by name ("web", "<pod>/<name>", "<namespace>/<pod>/<name>"), full id, unique id prefix of at
  // least 3 characters, or cgroup path. Stopped containers are found too (running = false).
  Result<ContainerInfo> find(std::string_view name_or_id);
  // The running containers, one per container cgroup found in the cgroup v2 tree. Containers not described yet
  // are asked about only until `describe_until`: the rest are listed undescribed (init_pid 0, not cached), so a
  // runtime that hangs delays a scan by one timeout, not one per container.
  std::vector<ContainerInfo> list(
      std::chrono::steady_clock::time_point describe_until = std::chrono::steady_clock::time_point::max());
  // Drops the cached description of this cgroup id: after its cgroup was removed (so the cache stays small in a
  // long-running daemon), or to read the runtime's state again.
  void forget(uint64_t cgroup_id);

 private:
  struct ContainerCgroup {
    CgroupContainerRef ref;
    uint64_t cgroup_id = 0;
  };

  void rescan_if_stale();
  void rescan();
  std::vector<ContainerCgroup> container_cgroups();
  uint64_t cgroup_inode(const std::string& cgroup_path) const;
  ContainerInfo describe(const CgroupContainerRef& ref, uint64_t cgroup_id, bool running);
  // The cached description of the container cgroup `cgroup_id` (0: unknown, then never cached).
  ContainerInfo cached_or_describe(const CgroupContainerRef& ref, uint64_t cgroup_id);
  Result<ContainerInfo> find_by_cgroup_path(std::string_view path);

  HostRoots roots_;
  std::unique_ptr<RuntimeStateSource> runtime_state_;
  std::unordered_map<uint64_t, std::string> path_by_id_;  // every cgroup v2 directory, from the last scan
  std::optional<std::chrono::steady_clock::time_point> last_scan_;
  std::unordered_map<uint64_t, std::optional<ContainerInfo>> info_by_id_;
};

}  // namespace sigdrain

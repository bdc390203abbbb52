// Which container a cgroup path belongs to, from the path's text alone (no I/O). Covers the layouts podman, docker,
// containerd (CRI), CRI-O and the kubelet create with the cgroupfs and the systemd drivers, on cgroup v1 and v2.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace sigdrain {

enum class Runtime { podman, docker, containerd, crio, unknown };

// "podman", "docker", "containerd", "cri-o", "unknown".
std::string_view runtime_name(Runtime runtime);

struct CgroupContainerRef {
  Runtime runtime = Runtime::unknown;  // unknown: a bare id under a Kubernetes pod (cgroupfs driver, any CRI runtime)
  std::string id;                      // 64 lowercase hex digits
  std::string pod_uid;                 // Kubernetes pod uid with dashes; empty outside Kubernetes
  std::string qos;                     // "guaranteed", "burstable", "besteffort"; empty outside Kubernetes
  std::string container_cgroup;        // the input path cut after the component naming the container
};

// A container id as runtimes write it: 64 lowercase hex digits.
bool is_container_id(std::string_view text);

// The container whose cgroup is `cgroup_path` or an ancestor of it (processes in a container's child cgroups,
// such as podman's ".../libpod-<id>.scope/container", belong to that container). nullopt for host cgroups,
// conmon's cgroups and forms it does not know.
std::optional<CgroupContainerRef> parse_container_cgroup(std::string_view cgroup_path);

// The cgroup v2 path ("0::" line) of a /proc/<pid>/cgroup file's text; nullopt on a v1-only host.
std::optional<std::string> unified_cgroup_path(std::string_view proc_cgroup_text);

// The container of a /proc/<pid>/cgroup file's text. Tries the v2 line first, then the v1 name=systemd, pids and
// memory lines, so that hybrid hosts whose runtime only uses v1 controllers are covered too.
std::optional<CgroupContainerRef> parse_proc_cgroup(std::string_view proc_cgroup_text);

}  // namespace sigdrain

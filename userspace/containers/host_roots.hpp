// Where the host's /proc, cgroup v2 tree and container runtimes' state live; tests point these at fixture trees.
#pragma once

#include <string>

#include "proc/proc.hpp"

namespace sigdrain {

// "/sys/fs/cgroup/unified" on hybrid hosts (cgroup v2 mounted there), else "/sys/fs/cgroup".
std::string default_cgroup2_root();

struct HostRoots {
  ProcFs proc;  // the host's /proc
  std::string cgroup2 = default_cgroup2_root();
  std::string podman_binary = "podman";  // looked up in PATH unless it holds a '/'
  std::string docker_state = "/var/lib/docker";
  std::string containerd_state = "/run/containerd";
  std::string crio_state = "/run/containers/storage";
  // podman's containers/storage, read when the podman binary is missing (a daemon in a container image):
  // overlay-containers/containers.json (names) and <id>/userdata/config.json under the graph root, the init's
  // <id>/userdata/pidfile under the run root.
  std::string podman_graphroot = "/var/lib/containers/storage";
  std::string podman_runroot = "/run/containers/storage";
};

}  // namespace sigdrain

// The daemon's view of which containers run on the node, kept up to date on a thread of its own: reading the
// runtimes' state (podman inspect, state files) can take seconds, and the daemon's thread must keep answering
// ptrace stops and renewing the BPF LSM lease meanwhile.
#pragma once

#include <chrono>
#include <condition_variable>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <thread>
#include <vector>

#include "containers/resolver.hpp"
#include "util/fd.hpp"
#include "util/result.hpp"

namespace sigdrain {

// How often the daemon's discovery walks cgroupfs where the cgroup change counter (observer/cgroup_changes.hpp)
// cannot load; where it loads, how often discovery looks at the count: one atomic load, so it can look often and
// guard a new container soon after its runtime describes it.
inline constexpr std::chrono::milliseconds kCgroupWalkInterval{500};
inline constexpr std::chrono::milliseconds kCgroupChangeLook{100};

class ContainerDiscovery {
 public:
  // A count that moves whenever a cgroup is made or removed on the node (CgroupChangeCounter::count).
  using CgroupChangeCount = std::function<uint64_t()>;

  // Scans at once, then looks every `interval`: it walks cgroupfs again when `cgroup_changes` moved, a runtime is
  // due to be asked again, or the last scan ran out of time; without `cgroup_changes`, at every look.
  static Result<std::unique_ptr<ContainerDiscovery>> start(HostRoots roots, std::chrono::milliseconds interval,
                                                           CgroupChangeCount cgroup_changes = {});
  ~ContainerDiscovery();  // stops the thread and joins it
  ContainerDiscovery(const ContainerDiscovery&) = delete;
  ContainerDiscovery& operator=(const ContainerDiscovery&) = delete;

  // Readable when a scan finished; take() clears it.
  int event_fd() const { return event_fd_.get(); }
  // The running containers of the latest scan not taken yet, or nullopt.
  std::optional<std::vector<ContainerInfo>> take();

 private:
  ContainerDiscovery(HostRoots roots, std::chrono::milliseconds interval, CgroupChangeCount cgroup_changes,
                     UniqueFd event_fd)
      : resolver_(std::move(roots)),
        interval_(interval),
        cgroup_changes_(std::move(cgroup_changes)),
        event_fd_(std::move(event_fd)) {}
  void loop();
  bool retry_due(std::chrono::steady_clock::time_point now) const;
  struct Scan {
    std::vector<ContainerInfo> running;
    bool complete = true;  // false: the describe budget ran out, some containers wait for the next scan
  };
  Scan scan();

  struct Retry {
    std::chrono::steady_clock::time_point at;
    std::chrono::milliseconds backoff;
  };

  ContainerResolver resolver_;  // this thread's alone
  std::set<uint64_t> last_seen_;  // container cgroup ids of the last scan, to forget the removed ones
  // Containers their runtime did not describe (state not written yet, podman timed out), asked about again at
  // `at`, backing off: a runtime creates the cgroup before its state, and a hanging podman must not be asked twice
  // a second.
  std::map<uint64_t, Retry> retries_;
  std::chrono::milliseconds interval_;
  CgroupChangeCount cgroup_changes_;
  UniqueFd event_fd_;
  std::mutex mutex_;
  std::condition_variable wake_;
  bool stopping_ = false;
  std::optional<std::vector<ContainerInfo>> latest_;
  std::thread thread_;
};

}  // namespace sigdrain

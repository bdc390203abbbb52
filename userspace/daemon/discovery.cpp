#include "daemon/discovery.hpp"

#include <sys/eventfd.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>

namespace sigdrain {

Result<std::unique_ptr<ContainerDiscovery>> ContainerDiscovery::start(HostRoots roots, std::chrono::milliseconds interval,
                                                                     CgroupChangeCount cgroup_changes) {
  UniqueFd fd(::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC));
  if (!fd) return Error::sys(errno, "eventfd");
  std::unique_ptr<ContainerDiscovery> d(
      new ContainerDiscovery(std::move(roots), interval, std::move(cgroup_changes), std::move(fd)));
  d->thread_ = std::thread([self = d.get()] { self->loop(); });
  return d;
}

ContainerDiscovery::~ContainerDiscovery() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  wake_.notify_all();
  if (thread_.joinable()) thread_.join();
}

std::optional<std::vector<ContainerInfo>> ContainerDiscovery::take() {
  uint64_t count = 0;
  (void)!::read(event_fd_.get(), &count, sizeof(count));
  std::lock_guard lock(mutex_);
  return std::exchange(latest_, std::nullopt);
}

namespace {
constexpr auto kFirstRetry = std::chrono::milliseconds(250);
constexpr auto kLongestRetry = std::chrono::milliseconds(4000);
// How long one scan asks runtimes about new containers before it publishes what it has: a node that starts with
// hundreds of containers, or a runtime that hangs, must not keep the daemon blind to the ones already known.
constexpr auto kDescribeBudget = std::chrono::milliseconds(1000);
}  // namespace

ContainerDiscovery::Scan ContainerDiscovery::scan() {
  auto now = std::chrono::steady_clock::now();
  Scan out;
  std::set<uint64_t> seen;
  std::set<uint64_t> asked_again;
  for (auto& [cgroup_id, retry] : retries_)
    if (now >= retry.at) {
      resolver_.forget(cgroup_id);  // list() asks the runtime again
      asked_again.insert(cgroup_id);
    }
  auto describe_until = now + kDescribeBudget;
  for (auto& info : resolver_.list(describe_until)) {
    seen.insert(info.cgroup_id);
    if (info.init_pid > 0) {
      retries_.erase(info.cgroup_id);
    } else if (auto& retry = retries_.try_emplace(info.cgroup_id, Retry{now + kFirstRetry, kFirstRetry}).first->second;
               asked_again.contains(info.cgroup_id)) {
      retry.backoff = std::min(retry.backoff * 2, kLongestRetry);
      retry.at = now + retry.backoff;
    }
    out.running.push_back(std::move(info));  // list() lists running containers only
  }
  // Past the budget some containers may not have been asked about: scan again without waiting.
  out.complete = std::chrono::steady_clock::now() < describe_until;
  for (uint64_t gone : last_seen_)
    if (!seen.contains(gone)) {  // its cgroup was removed: keep the cache small
      resolver_.forget(gone);
      retries_.erase(gone);
    }
  last_seen_ = std::move(seen);
  return out;
}

bool ContainerDiscovery::retry_due(std::chrono::steady_clock::time_point now) const {
  return std::any_of(retries_.begin(), retries_.end(), [&](const auto& entry) { return now >= entry.second.at; });
}

void ContainerDiscovery::loop() {
  std::optional<uint64_t> changes_at_last_scan;
  bool last_scan_complete = true;
  std::unique_lock lock(mutex_);
  while (!stopping_) {
    lock.unlock();
    // Read before the walk: a cgroup made during it moves the count past this value, and the next look walks again.
    std::optional<uint64_t> changes;
    if (cgroup_changes_) changes = cgroup_changes_();
    bool walk = !changes || changes != changes_at_last_scan || !last_scan_complete ||
                retry_due(std::chrono::steady_clock::now());
    std::optional<Scan> result;
    if (walk) {
      result = scan();
      changes_at_last_scan = changes;
      last_scan_complete = result->complete;
    }
    lock.lock();
    if (result) {
      latest_ = std::move(result->running);
      uint64_t one = 1;
      (void)!::write(event_fd_.get(), &one, sizeof(one));
    }
    if (last_scan_complete) wake_.wait_for(lock, interval_, [this] { return stopping_; });
  }
}

}  // namespace sigdrain

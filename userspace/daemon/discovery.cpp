#include "daemon/discovery.hpp"

#include <sys/eventfd.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>

namespace sigdrain {

Result<std::unique_ptr<ContainerDiscovery>> ContainerDiscovery::start(HostRoots roots, std::chrono::milliseconds interval) {
  UniqueFd fd(::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC));
  if (!fd) return Error::sys(errno, "eventfd");
  std::unique_ptr<ContainerDiscovery> d(new ContainerDiscovery(std::move(roots), interval, std::move(fd)));
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
  auto describe_until = now + kDescribeBudget;
  for (auto& info : resolver_.list(describe_until)) {
    seen.insert(info.cgroup_id);
    if (info.init_pid > 0) {
      retries_.erase(info.cgroup_id);
    } else if (auto [retry, first] = retries_.try_emplace(info.cgroup_id, Retry{now + kFirstRetry, kFirstRetry});
               !first && now >= retry->second.at) {
      resolver_.forget(info.cgroup_id);  // the next scan asks the runtime again
      retry->second.backoff = std::min(retry->second.backoff * 2, kLongestRetry);
      retry->second.at = now + retry->second.backoff;
    }
    if (info.running) out.running.push_back(std::move(info));
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

void ContainerDiscovery::loop() {
  std::unique_lock lock(mutex_);
  while (!stopping_) {
    lock.unlock();
    auto result = scan();
    lock.lock();
    latest_ = std::move(result.running);
    uint64_t one = 1;
    (void)!::write(event_fd_.get(), &one, sizeof(one));
    if (result.complete) wake_.wait_for(lock, interval_, [this] { return stopping_; });
  }
}

}  // namespace sigdrain

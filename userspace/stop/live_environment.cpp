#include "stop/live_environment.hpp"

#include <poll.h>
#include <unistd.h>

#include <cstdio>

#include "containers/cgroup_path.hpp"
#include "containers/container_signal.hpp"
#include "proc/pidfd.hpp"
#include "signals/signal_names.hpp"

namespace sigdrain {
namespace {

// The init's exit (and every process's) shows as the pidfd becoming readable.
bool pidfd_readable(int fd, int timeout_ms) {
  pollfd p{fd, POLLIN, 0};
  return ::poll(&p, 1, timeout_ms) > 0 && (p.revents & (POLLIN | POLLHUP));
}

}  // namespace

Result<std::unique_ptr<LiveStopEnvironment>> LiveStopEnvironment::make(const ContainerInfo& container, const ProcFs& proc,
                                                                       bool show_progress) {
  std::unique_ptr<LiveStopEnvironment> env(new LiveStopEnvironment(container, proc, show_progress));
  env->init_pidfd_ = open_pidfd(container.init_pid);
  if (!env->init_pidfd_) return Error::sys(errno, fmt::format("cannot open the container's init (pid {})", container.init_pid));
  ObserverOptions options;
  options.signal_mask = signal_bit(SIGKILL);  // only exits matter here; they are reported regardless of the mask
  options.report_deliver = false;
  options.watch_all_cgroups = false;  // this container's sockets only
  LiveStopEnvironment* self = env.get();
  auto observer = Observer::start(options, [self](const ObservedEvent& ev) {
    if (const auto* e = std::get_if<ExitEvent>(&ev); e && static_cast<pid_t>(e->tgid) == self->container_.init_pid) {
      ExitStatus status;
      if (e->cause == SIGDRAIN_EXIT_CODE) status.code = static_cast<int>(e->cause_value);
      if (e->cause == SIGDRAIN_EXIT_SIGNAL) status.killed_by = static_cast<int>(e->cause_value);
      self->exit_ = status;
    }
  });
  if (!observer) return observer.error();
  env->observer_ = std::move(*observer);
  if (auto watched = env->observer_->watch_cgroup(container.cgroup_id); !watched) return watched.error();
  // After the observer started: nothing falls in between.
  env->old_connections_ = OldConnections(container_inbound_connections(proc, container.init_pid));
  if (!env->observer_->observes_requests())
    return Error::msg(env->observer_->requests_unobserved_reason());
  return env;
}

LiveStopEnvironment::~LiveStopEnvironment() { clear_progress(); }

void LiveStopEnvironment::clear_progress() {
  if (progress_shown_) std::fputs("\r\033[K", stderr);
  progress_shown_ = false;
}

DrainSample LiveStopEnvironment::sample() {
  CgroupStats stats = observer_->cgroup_stats(container_.cgroup_id).value_or(CgroupStats{});
  DrainSample s;
  s.now = Clock::now();
  s.inflight = stats.inflight;
  s.open_inbound = stats.open_inbound;
  s.requests_completed = stats.requests_completed;
  s.last_activity = activity_.seen(stats.activity, s.now);
  if (!old_connections_.empty())
    s = old_connections_.adjust(s, container_socket_inodes(proc_, container_.init_pid), stats.adopted_open);
  return s;
}

std::vector<ProcessFacts> LiveStopEnvironment::processes() { return process_tree(proc_, container_.init_pid); }

std::vector<pid_t> LiveStopEnvironment::listener_pids() {
  std::vector<pid_t> pids;
  for (const auto& s : observer_->sockets())
    if (s.state.direction == SIGDRAIN_DIR_LISTEN && s.state.cgroup_id == container_.cgroup_id)
      pids.push_back(static_cast<pid_t>(s.state.owner_tgid));
  return pids;
}

Result<void> LiveStopEnvironment::send(pid_t pid, int signo) {
  return signal_in_container(proc_, container_.id, pid, signo, pid == container_.init_pid ? init_pidfd_.get() : -1);
}

bool LiveStopEnvironment::init_exited() {
  if (!pidfd_readable(init_pidfd_.get(), 0)) return false;
  // Collect the exit event with its cause; it is in the ring buffer by the time the pidfd is readable.
  for (int i = 0; i < 5 && !exit_; ++i) (void)observer_->poll(std::chrono::milliseconds(20));
  return true;
}

bool LiveStopEnvironment::pause_until(Clock::time_point until) {
  for (;;) {
    if (init_exited()) return true;
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(until - Clock::now());
    if (left.count() <= 0) return false;
    (void)observer_->poll(std::min(left, std::chrono::milliseconds(10)));
  }
}


void LiveStopEnvironment::progress(const DrainSample& s, const DrainTimes& times) {
  if (!show_progress_) return;
  auto secs = [](Clock::duration d) { return std::chrono::duration<double>(d).count(); };
  std::fprintf(stderr, "\r\033[Kdraining %s: %lld in flight, %lld connections open, %.1f s, deadline %.1f s",
               container_.name.empty() ? container_.id.substr(0, 12).c_str() : container_.name.c_str(),
               static_cast<long long>(std::max<int64_t>(s.inflight, 0)), static_cast<long long>(std::max<int64_t>(s.open_inbound, 0)),
               secs(s.now - times.start), secs(times.drain_deadline - times.start));
  progress_shown_ = true;
}

}  // namespace sigdrain

// The BPF LSM hold backend: an lsm/task_kill program (bpf/lsm_hold.bpf.c) refuses the stop signals other
// processes send to guarded processes; each refusal arrives here as a RefusedSignal so the daemon can drain the
// container and deliver the stop itself.
//
// Unlike the ptrace backend the sender sees the hold: its kill() fails with EPERM. Docker then escalates to
// SIGKILL after about 2 s and containerd reports FailedKillPod, which is why ptrace is the default and this
// backend is for processes that cannot be ptraced (docs/daemon.md, "Hold backends").
//
// Fail-open: the program refuses nothing once the lease expires, so the owner renews it (renew_lease) more often
// than it lasts; if the daemon dies, signals pass again within one lease. SIGKILL and SIGSTOP are never refused.
// The destructor unguards everything and detaches the program.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <csignal>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <set>
#include <span>
#include <string>
#include <vector>

#include "observer/kernel_env.hpp"
#include "util/result.hpp"

namespace sigdrain {

struct RefusedSignal {
  pid_t sender_tgid = 0;
  pid_t sender_tid = 0;
  std::string sender_comm;
  pid_t target_tgid = 0;
  pid_t target_tid = 0;
  int signo = 0;
  std::uint64_t time_ns = 0;  // CLOCK_MONOTONIC
};

struct LsmHoldOptions {
  std::vector<int> refused_signals{SIGTERM, SIGINT, SIGQUIT, SIGHUP};
  pid_t exempt_tgid = 0;  // the process that delivers the stops; 0: this process
};

struct LsmHoldCounters {
  std::uint64_t refused = 0;
  std::uint64_t ringbuf_drops = 0;   // let through because the event could not be reported
  std::uint64_t lease_expired = 0;   // let through to a guarded process because the lease had expired
};

// The lease's end on CLOCK_MONOTONIC, saturating instead of wrapping.
std::uint64_t lease_expiry_ns(std::uint64_t now_ns, std::chrono::nanoseconds lease);
// One ring-buffer record; nullopt when its size is not that of struct sigdrain_refused_event.
std::optional<RefusedSignal> decode_refused_signal(std::span<const std::byte> record);

class LsmHold {
 public:
  using RefusedCallback = std::function<void(const RefusedSignal&)>;

  // Loads and attaches the program. Fails with env.bpf_lsm_unavailable_reason() where BPF LSM cannot work, with
  // libbpf's error otherwise. The lease starts expired: nothing is refused before the first renew_lease().
  static Result<std::unique_ptr<LsmHold>> load(const KernelEnv& env, LsmHoldOptions options, RefusedCallback on_refused);
  ~LsmHold();
  LsmHold(const LsmHold&) = delete;
  LsmHold& operator=(const LsmHold&) = delete;

  // Refuses stop signals to the process from now on. `start_ticks` is its /proc/PID/stat start time, so a new
  // process reusing the pid is not protected; 0 skips that check.
  Result<void> guard(pid_t tgid, std::uint64_t start_ticks);
  Result<void> unguard(pid_t tgid);  // a pid not guarded is fine
  void unguard_all();
  bool guarding(pid_t tgid) const { return guarded_.contains(tgid); }
  // Refusals continue until `lease` from now.
  void renew_lease(std::chrono::nanoseconds lease);
  void end_lease();  // refuse nothing from now on, until the next renewal

  // Hands each refusal reported since the last call to the callback; how many.
  Result<int> poll(std::chrono::milliseconds timeout);
  // Readable when refusals wait in the ring buffer, for a caller's epoll; then poll(0) consumes them.
  int event_fd() const;
  LsmHoldCounters counters() const;

 private:
  struct Impl;
  explicit LsmHold(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
  std::set<pid_t> guarded_;
};

}  // namespace sigdrain

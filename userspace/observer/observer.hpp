// The BPF observer: loads bpf/signals.bpf.c and bpf/sockets.bpf.c, streams signal lifecycle events from the
// ring buffer and answers questions about per-cgroup socket aggregates.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <set>
#include <vector>

#include "observer/bpf_events.hpp"
#include "observer/kernel_env.hpp"
#include "util/result.hpp"

namespace sigdrain {

struct ObserverOptions {
  uint64_t signal_mask = 0;     // signal_bit(n) set: report signal n; 0 reports all
  bool report_deliver = true;   // signal_deliver events (exit causes are tracked regardless)
  bool sockets = true;          // load the socket programs
  // Keep per-process dispositions and per-thread blocked masks in BPF (bpf/dispositions.bpf.c), read into each
  // signal event at generation. Adds syscall tracepoints (rt_sigaction, rt_sigprocmask), which put every task
  // on the syscall tracing slow path while attached: trace turns it on, the daemon does not.
  bool track_dispositions = false;
  // How an exit's code is known: the syscall tracepoints exit_group and exit. False: attached from start() on.
  // True (the daemon): attached only between track_exit_codes(true) and track_exit_codes(false), i.e. while a
  // stop needs them; any syscall tracepoint puts every syscall of every task on the node on the kernel's syscall
  // tracing slow path (~45 ns a call on the bench host). Exits without them say how only when a signal killed.
  bool exit_codes_on_demand = false;
  // True: an ExitEvent for every process that ends (trace, safe-stop). False (the daemon): only for the processes
  // named with watch_exit(), so the node's short-lived processes do not each wake the daemon.
  bool report_all_exits = true;
  uint32_t max_sockets = 65536; // per-socket state entries (LRU)
  // With the tracepoint request probe set: the socket programs as raw tracepoint programs where the kernel lets them
  // read the socket (KernelEnv::raw_tracepoint_reads), else as classic ones, which build a record of every state
  // change, send and receive on the node before any program runs. False: the classic ones (tests cover both).
  bool raw_tracepoints = true;
  // True: every cgroup's sockets are counted (trace, which reports in-flight requests of any process). False:
  // only those of cgroups named with watch_cgroup(); a send or receive anywhere else leaves the BPF program
  // after one hash lookup (the daemon and safe-stop, which care about their containers only).
  bool watch_all_cgroups = true;
  // Bytes of the events ring buffer (libbpf rounds it up to a power-of-two number of pages). When it is full,
  // events are lost and counted (ObserverCounters::ringbuf_drops); per-cgroup socket state lives in maps, not events.
  uint32_t ring_buffer_bytes = 1u << 20;
  // 0: an event wakes a reader that waits in poll() at once. N: only once N bytes of events wait; the reader must
  // then poll with a timeout (it finds the rest when it runs out), and events reach it up to that late. For a
  // reader that can lag (trace, benchmarks): a signal storm then does not pay a cross-CPU wakeup per signal.
  uint32_t wakeup_backlog_bytes = 0;
  // True (trace): a ring buffer per online CPU, so that CPUs writing events at once do not share one ring's lock,
  // and poll() hands events on in time order once they are kPerCpuRingsReorderWindow old (drain() at once). Each
  // ring has ring_buffer_bytes / online CPUs, at least kMinPerCpuRingBytes; a CPU that comes online later shares
  // one more ring of that size. False (the daemon): one ring, each event handed on at once.
  bool per_cpu_rings = false;
  // Non-empty (the daemon): the socket maps and links are pinned under this bpffs directory (observer/bpf_pins.hpp)
  // and outlive the process; compatible pins left by an earlier one are adopted. Not on bpffs: runs unpinned.
  std::string pin_root;
  // Told one line each time pinning changes something or cannot be done (replaced layouts, unpinned run).
  std::function<void(const std::string&)> log;
};

// What a reader that may lag uses (trace): woken once 64 KiB (~700 signal events) wait, else it polls every
// 25 ms, so an event reaches it at most that late.
inline constexpr uint32_t kLaggingReaderWakeupBytes = 64u << 10;
inline constexpr std::chrono::milliseconds kLaggingReaderPoll{25};
// How old an event read from per-CPU rings must be before it is handed on: any event older than it has been
// written to its ring by then (see time_ordered_events.hpp).
inline constexpr std::chrono::milliseconds kPerCpuRingsReorderWindow{10};
inline constexpr uint32_t kMinPerCpuRingBytes = 256u << 10;

// What became of ObserverOptions::pin_root.
enum class SocketPins {
  none,     // not asked for, or not possible (logged): the counts end with this Observer
  created,  // pinned afresh: nothing compatible was pinned before
  adopted,  // the maps an earlier observer pinned, with every count it made, and it went on counting until now
};

struct CgroupStats {
  int64_t open_inbound = 0;
  int64_t inflight = 0;
  int64_t listening = 0;
  uint64_t requests_completed = 0;
  uint64_t activity = 0;          // moves on with each data that counts as activity (ActivityClock reads it)
  int64_t adopted_open = 0;       // connections opened before the observer started, seen since, still open
};

struct SocketRecord {
  uint64_t sk = 0;
  sigdrain_sock_state state{};
};

// One process's dispositions as /proc reads them (SigCgt, SigIgn, and SigBlk of each thread), to seed the BPF
// record of a process that predates the observer.
struct DispositionSeed {
  uint32_t tgid = 0;
  uint64_t caught = 0, ignored = 0;
  struct Thread {
    uint32_t tid = 0;
    uint64_t blocked = 0;
  };
  std::vector<Thread> threads;
};

struct ObserverCounters {
  uint64_t ringbuf_drops = 0;        // events lost because the ring buffer was full
  uint64_t socket_state_failures = 0;  // sockets not tracked: the socket map was full
  uint64_t cgroup_state_failures = 0;
};

// Makes libbpf's own messages visible (`-v`).
void set_libbpf_verbose(bool verbose);

class Observer {
 public:
  using Handler = std::function<void(const ObservedEvent&)>;

  // Probes the kernel, loads and attaches. The handler runs inside poll().
  static Result<std::unique_ptr<Observer>> start(const ObserverOptions& options, Handler handler);
  ~Observer();
  Observer(const Observer&) = delete;
  Observer& operator=(const Observer&) = delete;

  // Waits up to `timeout` for events and hands each to the handler; returns how many were handled. With
  // per_cpu_rings, events younger than kPerCpuRingsReorderWindow wait for a later poll() or drain().
  Result<int> poll(std::chrono::milliseconds timeout);
  // Hands on every event written so far, without waiting: when the caller stops reading.
  Result<int> drain();
  // Readable when events wait in the ring buffer, for a caller's own epoll; then poll(0) consumes them.
  int event_fd() const;

  // With watch_all_cgroups off: counts the sockets of processes in this cgroup from now on (giving it a slot in
  // cgroup_stats); a connection that carried data before is counted as one opened before the observer started.
  // Idempotent. With watch_all_cgroups on, every cgroup counts already: nothing to do.
  Result<void> watch_cgroup(uint64_t cgroup_id);
  // Forgets the cgroup (its container is gone): its watch and its counts. Its sockets closing later change nothing
  // (a cgroup id is never reused, so no later cgroup inherits them).
  void forget_cgroup(uint64_t cgroup_id);
  // forget_cgroup() for every watched or counted cgroup `existing` does not list: what a restarted daemon finds
  // pinned of containers that ended while it was down. Returns how many it forgot.
  size_t forget_cgroups_not_in(const std::set<uint64_t>& existing);
  // nullopt when the cgroup is not watched (with watch_all_cgroups: had no counted socket yet), or sockets are not
  // observed.
  std::optional<CgroupStats> cgroup_stats(uint64_t cgroup_id) const;
  std::vector<SocketRecord> sockets() const;
  ObserverCounters counters() const;
  // Runs of the observer's programs the kernel skipped (bpf_prog_info's recursion_misses): a classic tracepoint
  // program does not run while another BPF program runs on that CPU, as when a timer's SIGALRM or a softirq's
  // TCP state change interrupts a program in process context. What those runs would have seen is missing (a
  // signal, an exit, a socket's state change). One syscall per program: read it now and then, not per event.
  uint64_t kernel_skipped_runs() const;
  // With exit_codes_on_demand: attaches (true) or detaches (false) the exit-code programs; idempotent, so a loop
  // can call it every turn with "is a stop in progress". Without: they stay attached whatever it is told.
  Result<void> track_exit_codes(bool on);
  // With report_all_exits off: report this process's exit (watch) or not any more (unwatch). Idempotent.
  Result<void> watch_exit(pid_t tgid);
  void unwatch_exit(pid_t tgid);
  bool tracks_exit_codes() const;
  // Seeds the disposition record of a process that existed before start() (track_dispositions only): what the
  // BPF programs learnt since start() wins over these /proc figures, which fill in what they have not seen.
  Result<void> seed_dispositions(const DispositionSeed& seed);
  // Why track_dispositions was asked for but is not in effect (its programs did not load): one line; else empty.
  std::string dispositions_untracked_reason() const;
  const KernelEnv& kernel() const { return env_; }
  // How requests in flight are seen: the sock tracepoints where the kernel has them, else fexit programs on
  // tcp_sendmsg/tcp_recvmsg where it loads them, else not at all.
  RequestProbeSet request_probes() const;
  bool observes_requests() const { return request_probes() != RequestProbeSet::none; }
  // True when the socket programs are raw tracepoint programs (ObserverOptions::raw_tracepoints).
  bool raw_tracepoints() const;
  // Why requests in flight are not seen, one line; empty when they are.
  std::string requests_unobserved_reason() const;
  SocketPins socket_pins() const;

 private:
  struct Impl;
  explicit Observer(std::unique_ptr<Impl> impl, KernelEnv env);
  std::unique_ptr<Impl> impl_;
  KernelEnv env_;
};

// Converts bpf_ktime_get_ns() (CLOCK_MONOTONIC) to wall-clock time.
std::chrono::system_clock::time_point monotonic_ns_to_wall(uint64_t monotonic_ns);
uint64_t monotonic_now_ns();

}  // namespace sigdrain

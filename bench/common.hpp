// Helpers shared by the benchmark tools: loopback sockets, a scratch cgroup, BPF program/map introspection,
// /proc samples, statistics and the JSON fragment each tool writes for bench/report.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <cmath>
#include <cstdint>
#include <filesystem>
#include <map>
#include <set>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "util/fd.hpp"
#include "util/result.hpp"

namespace sigdrain::bench {

// Prints "bench: <message>" and exits 1: the tools are run by bench/run.sh, which reports the failure.
[[noreturn]] void die(const std::string& message);
template <typename T>
T need(Result<T> r, const std::string& what) {
  if (!r) die(what + ": " + r.error().message);
  return std::move(r).value();
}
inline void need(const Result<void>& r, const std::string& what) {
  if (!r) die(what + ": " + r.error().message);
}

// A listening TCP socket on 127.0.0.1 with a kernel-chosen port.
struct LoopbackListener {
  UniqueFd fd;
  uint16_t port = 0;
};
Result<LoopbackListener> listen_loopback(int backlog);
Result<UniqueFd> connect_loopback(uint16_t port);
// An established client/server pair through a real listener (the server end is an accepted, inbound socket).
struct TcpPair {
  UniqueFd client;
  UniqueFd server;
};
Result<TcpPair> tcp_pair(const LoopbackListener& listener);

// Raises RLIMIT_NOFILE's soft limit to the hard limit (no CAP_SYS_RESOURCE needed); returns the new soft limit.
uint64_t raise_nofile_limit();

// A throwaway cgroup v2 directory; its inode is what bpf_get_current_cgroup_id() reports for its members.
class ScratchCgroup {
 public:
  explicit ScratchCgroup(const std::string& name);
  ~ScratchCgroup();
  ScratchCgroup(const ScratchCgroup&) = delete;
  ScratchCgroup& operator=(const ScratchCgroup&) = delete;
  uint64_t id() const { return id_; }
  Result<void> enter(pid_t pid) const;

 private:
  std::filesystem::path path_;
  uint64_t id_ = 0;
};

// BPF objects by id. The observer hides its skeleton, so a tool finds its own programs and maps as the ids that
// appeared while it started the observer.
std::set<uint32_t> bpf_prog_ids();
std::set<uint32_t> bpf_map_ids();
struct BpfProgRunStats {
  std::string name;
  uint64_t run_time_ns = 0;
  uint64_t run_cnt = 0;
};
std::vector<BpfProgRunStats> bpf_prog_run_stats(const std::set<uint32_t>& ids);
struct BpfMapMemory {
  std::string name;
  uint32_t max_entries = 0;
  uint64_t memlock_bytes = 0;
  bool keyed = false;  // a hash map: memory per entry means something (not for a ring buffer or .bss)
};
std::vector<BpfMapMemory> bpf_map_memory(const std::set<uint32_t>& ids);
template <typename T>
std::set<T> added(const std::set<T>& before, const std::set<T>& after) {
  std::set<T> out;
  for (const T& x : after)
    if (!before.contains(x)) out.insert(x);
  return out;
}
// kernel.bpf_stats_enabled; returns the previous value, or -1 when the kernel refuses.
int set_bpf_stats(int enabled);

struct ProcSample {
  uint64_t rss_kb = 0;
  uint64_t hwm_kb = 0;
  uint64_t cpu_ticks = 0;  // utime + stime, in clock ticks
};
Result<ProcSample> sample_process(pid_t pid);
// RSS, peak RSS and CPU % of `pid` over `window` (this thread sleeps through it): {rss_kb, hwm_kb, cpu_percent}.
nlohmann::json footprint_over(pid_t pid, std::chrono::seconds window);

// Runs `args` (argv[0] a path) with stdout and stderr to `log_path`; the child gets SIGTERM when this process dies.
pid_t spawn_logged(const std::vector<std::string>& args, const std::string& log_path);

double percentile(std::vector<double> values, double p);  // nearest rank, p in [0, 100]
double median(std::vector<double> values);
// The mean and the 95 % half-width of the mean (Student's t, bench_stats.py's table); half is infinite for < 2.
struct MeanInterval {
  double mean = NAN;
  double half = INFINITY;
};
MeanInterval mean_interval95(const std::vector<double>& values);
// The median wall time of `runs` calls of `f`, in ms.
template <typename F>
double median_ms(int runs, F&& f) {
  std::vector<double> ms;
  for (int i = 0; i < runs; ++i) {
    auto start = std::chrono::steady_clock::now();
    f();
    ms.push_back(std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count());
  }
  return median(std::move(ms));
}

Result<void> write_json(const std::filesystem::path& path, const nlohmann::json& value);

// A hand-made program on a tracepoint, for what a run costs on this host as bpf_stats accounts it (bpf_stats times
// every run with two sched_clock() reads, so a slow clock (a nested VM) shows in every program alike):
//   empty       r0 = 0; exit ("sd_floor"): the floor; a program's cost above it is its own instructions and helpers
//   clock_read  bpf_ktime_get_ns(), then the same ("sd_clock_read"): the clock the signal programs stamp events
//               with, slow to read where the clocksource is (kvm-clock without a stable TSC)
// Attached through one perf event, as libbpf attaches tracepoints; id() is 0 when it could not load or attach.
class TracepointProgram {
 public:
  enum class Body { empty, clock_read };
  static constexpr const char* kEmptyName = "sd_floor";
  static constexpr const char* kClockReadName = "sd_clock_read";
  TracepointProgram(const char* event, Body body);
  uint32_t id() const { return id_; }

 private:
  UniqueFd prog_, event_;
  uint32_t id_ = 0;
};

// ns per run of the programs named `name` between two bpf_prog_run_stats() reads; NAN when it did not run.
double ns_per_run(const std::vector<BpfProgRunStats>& before, const std::vector<BpfProgRunStats>& after,
                  const std::string& name);

}  // namespace sigdrain::bench

// Figure 8: what the stop gate (bpf/stop_gate.bpf.c, on sched_process_exec) costs every exec on the host: a loop
// of fork + exec /bin/true, CPU per exec (this process and its children, user + system), rounds interleaved
// without and with the program loaded (a guarded id and a fresh lease, as in the daemon).
//
// usage: bench_gate_exec [EXECS_PER_ROUND=2000] [ROUNDS=5]
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "common.hpp"
#include "hold/stop_gate.hpp"

namespace {

using namespace std::chrono_literals;

double cpu_us() {
  rusage self{}, children{};
  getrusage(RUSAGE_SELF, &self);
  getrusage(RUSAGE_CHILDREN, &children);
  auto us = [](const timeval& t) { return t.tv_sec * 1e6 + t.tv_usec; };
  return us(self.ru_utime) + us(self.ru_stime) + us(children.ru_utime) + us(children.ru_stime);
}

// CPU µs per exec of /bin/true.
double exec_loop(int n) {
  double start = cpu_us();
  for (int i = 0; i < n; ++i) {
    pid_t pid = fork();
    if (pid == 0) {
      execl("/bin/true", "true", nullptr);
      _exit(127);
    }
    waitpid(pid, nullptr, 0);
  }
  return (cpu_us() - start) / n;
}

}  // namespace

int main(int argc, char** argv) {
  using namespace sigdrain;
  int n = argc > 1 ? std::atoi(argv[1]) : 2000;
  int rounds = argc > 2 ? std::atoi(argv[2]) : 5;
  if (n <= 0 || rounds <= 0) bench::die("usage: bench_gate_exec [EXECS_PER_ROUND>0] [ROUNDS>0]");
  std::vector<double> off, on;
  int stats_before = bench::set_bpf_stats(1);  // the kernel's own run time of the program, beside the CPU loop
  uint64_t run_ns = 0, runs = 0, floor_ns = 0, floor_runs = 0;
  for (int r = 0; r < rounds; ++r) {
    off.push_back(exec_loop(n));
    auto ids_before = bench::bpf_prog_ids();
    auto gate = bench::need(StopGate::load(StopGateOptions{}, [](const GatedProcess&) {}), "loading the stop gate");
    auto ids = bench::added(ids_before, bench::bpf_prog_ids());
    bench::need(gate->guard(std::string(64, 'f')), "guarding an id");
    gate->renew_lease(1h);
    on.push_back(exec_loop(n));
    for (const auto& p : bench::bpf_prog_run_stats(ids)) {
      run_ns += p.run_time_ns;
      runs += p.run_cnt;
    }
    std::printf("  round %d: %.1f us/exec without the gate, %.1f us/exec with it\n", r + 1, off.back(), on.back());
    // An empty program on the same tracepoint, alone: what bpf_stats counts for any program run once per exec
    // (its clock reads and dispatch, with the caches an exec leaves).
    bench::TracepointProgram floor("sched/sched_process_exec", bench::TracepointProgram::Body::empty);
    if (floor.id()) {
      exec_loop(std::max(1, n / 4));
      for (const auto& p : bench::bpf_prog_run_stats({floor.id()})) {
        floor_ns += p.run_time_ns;
        floor_runs += p.run_cnt;
      }
    }
  }
  if (stats_before >= 0) bench::set_bpf_stats(stats_before);
  double m_off = bench::median(off), m_on = bench::median(on);
  std::printf("stop gate exec cost: %.1f vs %.1f us CPU per exec of /bin/true (%.3f of ungated; noise of the host)\n",
              m_on, m_off, m_on / m_off);
  if (runs > 0) {
    double per_run_us = static_cast<double>(run_ns) / static_cast<double>(runs) / 1000.0;
    std::printf("stop gate exec cost: the program itself %.2f us per exec (%llu runs), %.4f of an exec vs goal <= 0.01, %s\n",
                per_run_us, static_cast<unsigned long long>(runs), per_run_us / m_off, per_run_us / m_off <= 0.01 ? "met" : "MISSED");
    // Issue #15: an exec <= 1 us more. Judged raw, and above the empty program's floor where bpf_stats' own cost
    // per run (two clock reads, slow in this nested VM) is the larger part.
    if (floor_runs > 0) {
      const double floor_us = static_cast<double>(floor_ns) / static_cast<double>(floor_runs) / 1000.0;
      const double above_us = per_run_us - floor_us;
      std::printf("stop gate exec cost: an empty program there %.2f us per exec (%llu runs); the gate %.2f us above it; "
                  "goal <= 1 us per exec: %s\n",
                  floor_us, static_cast<unsigned long long>(floor_runs), above_us,
                  per_run_us <= 1.0 ? "met" : above_us <= 1.0 ? "met above the floor, missed raw" : "MISSED");
    }
  }
  return 0;
}

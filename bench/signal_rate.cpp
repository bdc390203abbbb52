// Figure 3: event capacity. Processes send SIGUSR1 as fast as they can to a child that ignores it; every send runs
// signal_generate. Three storms (1 sender; 2 senders to one target; 2 senders to a target each), each without an
// observer and read as trace reads (batched wakeups, a ring per CPU), as trace read before (one ring) and as the
// daemon loads (SIGUSR1 not reported), interleaved over rounds: each reading's rate as a ratio to the same round's
// unobserved rate, with its 95 % interval, the events handled, the ring buffers' drops and the reader's CPU time.
// Then a paced ramp read as trace reads (two senders sharing a target rate, in 1 ms bursts) up to the first rate
// where events are dropped, or the senders' limit. Last, one more observed storm with kernel.bpf_stats_enabled=1:
// the programs' own ns per run and runs per signal, beside which the senders' loss per signal can be read (a run of
// its own: bpf_stats slows every program run).
//
// usage: bench_signal_rate OUT.json [SECONDS_PER_RUN]
#include <sched.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <optional>
#include <thread>

#include <fmt/format.h>

#include "common.hpp"
#include "daemon/daemon.hpp"
#include "observer/observer.hpp"

namespace sigdrain::bench {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

double thread_cpu_seconds() {
  rusage u{};
  getrusage(RUSAGE_THREAD, &u);
  return static_cast<double>(u.ru_utime.tv_sec + u.ru_stime.tv_sec) +
         static_cast<double>(u.ru_utime.tv_usec + u.ru_stime.tv_usec) / 1e6;
}

pid_t spawn_ignoring_target() {
  pid_t pid = fork();
  if (pid < 0) die("fork");
  if (pid == 0) {
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    signal(SIGUSR1, SIG_IGN);
    for (;;) pause();
  }
  return pid;
}

// Sends SIGUSR1 to `target` until `until`, as fast as it can (rate 0) or `rate` per second in 1 ms bursts, then
// writes how many it sent to `report`.
// The CPUs this process may run on, in order: sender i runs on the i-th (round the list).
std::vector<int> allowed_cpus() {
  cpu_set_t set;
  CPU_ZERO(&set);
  std::vector<int> cpus;
  if (sched_getaffinity(0, sizeof(set), &set) == 0)
    for (int cpu = 0; cpu < CPU_SETSIZE; ++cpu)
      if (CPU_ISSET(cpu, &set)) cpus.push_back(cpu);
  return cpus;
}

// Pinned to `cpu` (-1: not pinned): this host's vCPUs differ in speed from minute to minute (a lone sender ran at
// 560k or 780k signals/s by where it landed), and a ratio between readings is only fair on the same CPU.
pid_t spawn_sender(pid_t target, Clock::time_point until, int report, double rate, int cpu) {
  pid_t pid = fork();
  if (pid < 0) die("fork");
  if (pid == 0) {
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (cpu >= 0) {
      cpu_set_t one;
      CPU_ZERO(&one);
      CPU_SET(cpu, &one);
      if (sched_setaffinity(0, sizeof(one), &one) != 0) _exit(2);
    }
    uint64_t sent = 0;
    const auto start = Clock::now();
    while (Clock::now() < until) {
      if (rate > 0) {
        auto due = static_cast<uint64_t>(rate * std::chrono::duration<double>(Clock::now() - start).count());
        if (sent >= due) {
          std::this_thread::sleep_for(1ms);
          continue;
        }
        for (; sent < due;) sent += kill(target, SIGUSR1) == 0;
        continue;
      }
      for (int i = 0; i < 256; ++i) sent += kill(target, SIGUSR1) == 0;
    }
    (void)!write(report, &sent, sizeof(sent));
    _exit(0);
  }
  return pid;
}

struct RateRun {
  double signals_per_s = 0;
  uint64_t handled = 0;
  uint64_t drops = 0;
  uint64_t sent = 0;
  double reader_cpu_s = 0;  // this thread's CPU time while the senders ran: the observer's reading of the events
};

// Who sends: `senders` processes, to one target (the kernel serializes them on its siglock, under which
// signal_generate runs) or to a target each (what they share then is the observer's ring buffer, if one).
struct Storm {
  const char* name;
  int senders;
  bool own_targets;
};

// How the signals are observed, if at all.
struct Reading {
  const char* name;
  bool observer;
  uint32_t wakeup_backlog = 0;  // ObserverOptions::wakeup_backlog_bytes; polled every kLaggingReaderPoll like trace
  bool per_cpu_rings = false;
  uint64_t signal_mask = 0;  // 0: SIGUSR1 is reported
  bool judged = true;        // false: shown for comparison, not judged against the goal
};

const Reading kUnobserved{"off", false};
// As `sigdrain trace` reads: batched wakeups, a ring per CPU.
const Reading kTrace{"trace", true, kLaggingReaderWakeupBytes, true};
// As trace read until per-CPU rings: batched wakeups, one ring for every CPU.
const Reading kTraceOneRing{"trace, one ring", true, kLaggingReaderWakeupBytes, false, 0, false};
// As the daemon loads: it reports stop signals only, so SIGUSR1 runs the programs and writes no event.
const Reading kDaemon{"daemon", true, 0, false, kDaemonReportedSignals};

// program_stats (with an observer): bpf_stats is turned on for the storm and the observer's programs' run time and
// count go there, beside an empty and a clock-read program's.
RateRun measure(const Storm& storm, const Reading& reading, std::chrono::milliseconds duration, double target_per_s = 0,
                std::vector<std::pair<BpfProgRunStats, BpfProgRunStats>>* program_stats = nullptr) {
  const int senders = storm.senders;
  const bool own_targets = storm.own_targets;
  std::vector<pid_t> targets;
  for (int i = 0; i < (own_targets ? senders : 1); ++i) targets.push_back(spawn_ignoring_target());
  auto is_target = [&](uint32_t pid) {
    return std::find(targets.begin(), targets.end(), static_cast<pid_t>(pid)) != targets.end();
  };
  uint64_t handled = 0;
  std::unique_ptr<Observer> observer;
  std::set<uint32_t> programs;
  if (reading.observer) {
    auto before = bpf_prog_ids();
    ObserverOptions options;
    options.wakeup_backlog_bytes = reading.wakeup_backlog;
    options.per_cpu_rings = reading.per_cpu_rings;
    options.signal_mask = reading.signal_mask;
    observer = need(Observer::start(options, [&](const ObservedEvent& ev) {
                      if (const auto* s = std::get_if<SignalEvent>(&ev); s && is_target(s->target_pid))
                        ++handled;
                    }),
                    "starting the observer");
    programs = added(before, bpf_prog_ids());
  }
  uint64_t drops_before = observer ? observer->counters().ringbuf_drops : 0;
  // With program_stats, the floor and the clock-read programs run on the same signal_generate events: what any
  // program pays there, and what the signal program's one clock read costs, in this workload's cache state.
  std::optional<TracepointProgram> floor_program, clock_program;
  if (program_stats && observer) {
    floor_program.emplace("signal/signal_generate", TracepointProgram::Body::empty);
    clock_program.emplace("signal/signal_generate", TracepointProgram::Body::clock_read);
    for (const TracepointProgram* p : {&*floor_program, &*clock_program})
      if (p->id()) programs.insert(p->id());
  }
  int stats_before = program_stats && observer ? set_bpf_stats(1) : -1;
  auto run_stats_before = stats_before >= 0 ? bpf_prog_run_stats(programs) : std::vector<BpfProgRunStats>{};

  int report[2];
  if (pipe(report) != 0) die("pipe");
  auto start = Clock::now();
  auto until = start + duration;
  const double reader_cpu_before = thread_cpu_seconds();
  std::vector<pid_t> children;
  static const std::vector<int> cpus = allowed_cpus();
  for (int i = 0; i < senders; ++i)
    children.push_back(spawn_sender(targets[i % targets.size()], until, report[1], target_per_s / senders,
                                    cpus.empty() ? -1 : cpus[static_cast<size_t>(i) % cpus.size()]));
  while (Clock::now() < until + 200ms) {
    if (observer)
      (void)observer->poll(kLaggingReaderPoll);
    else
      std::this_thread::sleep_for(kLaggingReaderPoll);
  }
  for (pid_t c : children) waitpid(c, nullptr, 0);
  const double reader_cpu_s = thread_cpu_seconds() - reader_cpu_before;
  if (stats_before >= 0) {
    for (const auto& after : bpf_prog_run_stats(programs))
      for (const auto& b : run_stats_before)
        if (b.name == after.name) program_stats->emplace_back(b, after);
    set_bpf_stats(stats_before);
  }
  if (observer) need(observer->drain(), "reading the last events");

  RateRun run;
  run.reader_cpu_s = reader_cpu_s;
  for (int i = 0; i < senders; ++i) {
    uint64_t n = 0;
    if (read(report[0], &n, sizeof(n)) == sizeof(n)) run.sent += n;
  }
  close(report[0]);
  close(report[1]);
  run.signals_per_s = static_cast<double>(run.sent) / std::chrono::duration<double>(duration).count();
  run.handled = handled;
  if (observer) run.drops = observer->counters().ringbuf_drops - drops_before;
  for (pid_t target : targets) {
    kill(target, SIGKILL);
    waitpid(target, nullptr, 0);
  }
  return run;
}

}  // namespace
}  // namespace sigdrain::bench

int main(int argc, char** argv) {
  using namespace sigdrain::bench;
  if (argc < 2) die("usage: bench_signal_rate OUT.json [SECONDS]");
  const auto duration = std::chrono::milliseconds(static_cast<int>((argc > 2 ? std::stod(argv[2]) : 2.0) * 1000));

  // Each storm without an observer and with each reading, interleaved (the order turned each round), kRounds
  // times: each reading is judged by its ratios to the same round's unobserved rate, as the host's speed moves by
  // half between minutes.
  constexpr int kRounds = 8;
  const Storm storms[] = {{"1 sender", 1, false}, {"2 senders, 1 target", 2, false}, {"2 senders, 2 targets", 2, true}};
  const Reading readings[] = {kUnobserved, kTrace, kTraceOneRing, kDaemon};
  constexpr size_t kReadings = std::size(readings);
  nlohmann::json runs = nlohmann::json::array();
  nlohmann::json capacity = nlohmann::json::array();
  for (const Storm& storm : storms) {
    std::vector<std::vector<double>> ratios(kReadings);
    std::vector<uint64_t> drops(kReadings, 0);
    for (int round = 0; round < kRounds; ++round) {
      std::vector<double> rate(kReadings, 0);
      for (size_t k = 0; k < kReadings; ++k) {
        const size_t i = (k + static_cast<size_t>(round)) % kReadings;
        RateRun r = measure(storm, readings[i], duration);
        rate[i] = r.signals_per_s;
        drops[i] += r.drops;
        std::printf("%-20s round %d %-16s %12.0f signals/s  handled=%llu drops=%llu reader %.2f CPU-s\n", storm.name,
                    round, readings[i].name, r.signals_per_s, static_cast<unsigned long long>(r.handled),
                    static_cast<unsigned long long>(r.drops), r.reader_cpu_s);
        runs.push_back({{"storm", storm.name}, {"senders", storm.senders}, {"targets", storm.own_targets ? storm.senders : 1},
                        {"reading", readings[i].name}, {"observer", readings[i].observer}, {"round", round},
                        {"signals_per_s", r.signals_per_s}, {"sent", r.sent}, {"handled", r.handled},
                        {"ringbuf_drops", r.drops}, {"reader_cpu_s", r.reader_cpu_s}});
      }
      for (size_t i = 1; i < kReadings; ++i)
        if (rate[0] > 0) ratios[i].push_back(rate[i] / rate[0]);
    }
    for (size_t i = 1; i < kReadings; ++i) {
      MeanInterval ratio = mean_interval95(ratios[i]);
      std::printf("%-20s %-16s %.3f +- %.3f of unobserved (95 %%, %zu rounds), %llu drops\n", storm.name,
                  readings[i].name, ratio.mean, ratio.half, ratios[i].size(), static_cast<unsigned long long>(drops[i]));
      capacity.push_back({{"storm", storm.name}, {"senders", storm.senders}, {"reading", readings[i].name},
                          {"ratio_mean", ratio.mean}, {"ratio_halfwidth95", ratio.half}, {"rounds", ratios[i].size()},
                          {"ringbuf_drops", drops[i]}, {"judged", readings[i].judged}});
    }
  }
  nlohmann::json ramp = nlohmann::json::array();
  for (double rate : {25e3, 50e3, 100e3, 200e3, 400e3, 800e3}) {
    RateRun r = measure(storms[1], kTrace, duration, rate);
    std::printf("paced %7.0f/s: %12.0f signals/s  handled=%llu drops=%llu\n", rate, r.signals_per_s,
                static_cast<unsigned long long>(r.handled), static_cast<unsigned long long>(r.drops));
    ramp.push_back({{"target_per_s", rate}, {"signals_per_s", r.signals_per_s}, {"sent", r.sent}, {"handled", r.handled},
                    {"ringbuf_drops", r.drops}});
    if (r.drops > 0 || r.signals_per_s < 0.9 * rate) break;  // the first drops, or the senders' limit
  }
  // One sender, read as trace reads: per signal sent, each program's runs and ns (the target ignores SIGUSR1, so
  // signal_generate runs in the sender's kill() and nothing is delivered).
  std::vector<std::pair<BpfProgRunStats, BpfProgRunStats>> stats;
  RateRun counted = measure(storms[0], kTrace, duration, 0, &stats);
  nlohmann::json programs = nlohmann::json::array();
  nlohmann::json bpf_stats = {{"available", !stats.empty()}, {"senders", 1}, {"reading", kTrace.name}, {"sent", counted.sent}};
  for (const auto& [before, after] : stats) {
    uint64_t n = after.run_cnt - before.run_cnt;
    if (n == 0 || counted.sent == 0) continue;
    const double ns = static_cast<double>(after.run_time_ns - before.run_time_ns) / static_cast<double>(n);
    if (after.name == TracepointProgram::kEmptyName || after.name == TracepointProgram::kClockReadName) {
      bpf_stats[after.name == TracepointProgram::kEmptyName ? "floor_ns_per_run" : "clock_read_ns_per_run"] = ns;
      std::printf("bpf_stats during a 1-sender storm: %s %.0f ns/run\n", after.name.c_str(), ns);
      continue;
    }
    programs.push_back({{"program", after.name}, {"runs", n},
                        {"ns_per_run", static_cast<double>(after.run_time_ns - before.run_time_ns) / static_cast<double>(n)},
                        {"runs_per_signal", static_cast<double>(n) / static_cast<double>(counted.sent)}});
  }
  for (const auto& p : programs)
    std::printf("bpf_stats during a 1-sender storm: %s %.0f ns/run, %.2f runs per signal\n",
                p["program"].get<std::string>().c_str(), p["ns_per_run"].get<double>(), p["runs_per_signal"].get<double>());
  bpf_stats["programs"] = programs;
  need(write_json(argv[1], {{"seconds_per_run", std::chrono::duration<double>(duration).count()}, {"runs", runs},
                            {"capacity", capacity}, {"paced", ramp}, {"bpf_stats", bpf_stats}}),
       "writing results");
  return 0;
}

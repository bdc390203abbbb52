// Figure 3: event capacity. Processes send SIGUSR1 as fast as they can to a child that ignores it; every send is
// one signal_generate event through the ring buffer. Measured without and with the Observer (consuming the ring
// buffer in this process, as `sigdrain trace` does), with one and two senders: the send rate, the events the
// observer handled and the ring buffer's drop counter. Then a paced ramp with the observer (two senders sharing a
// target rate, in 1 ms bursts) up to the first rate where the ring buffer drops events, or the senders' limit.
// Last, one more observed storm with kernel.bpf_stats_enabled=1: the programs' own ns per run and runs per signal,
// beside which the senders' loss per signal can be read (a run of its own: bpf_stats slows every program run).
//
// usage: bench_signal_rate OUT.json [SECONDS]
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <optional>
#include <thread>

#include <fmt/format.h>

#include "common.hpp"
#include "observer/observer.hpp"

namespace sigdrain::bench {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

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
pid_t spawn_sender(pid_t target, Clock::time_point until, int report, double rate) {
  pid_t pid = fork();
  if (pid < 0) die("fork");
  if (pid == 0) {
    prctl(PR_SET_PDEATHSIG, SIGKILL);
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
  int senders = 0;
  bool observer = false;
  double target_per_s = 0;  // 0: as fast as the senders can
  double signals_per_s = 0;
  uint64_t handled = 0;
  uint64_t drops = 0;
  uint64_t sent = 0;
};

// wakeup_backlog: ObserverOptions::wakeup_backlog_bytes (0: every event may wake the reader, as in the daemon;
// kLaggingReaderWakeupBytes: as trace runs), polled every kLaggingReaderPoll like trace. program_stats (with the
// observer): bpf_stats is turned on for the storm and the observer's programs' run time and count go there.
RateRun measure(int senders, bool with_observer, std::chrono::milliseconds duration, double target_per_s = 0,
                uint32_t wakeup_backlog = kLaggingReaderWakeupBytes,
                std::vector<std::pair<BpfProgRunStats, BpfProgRunStats>>* program_stats = nullptr) {
  pid_t target = spawn_ignoring_target();
  uint64_t handled = 0;
  std::unique_ptr<Observer> observer;
  std::set<uint32_t> programs;
  if (with_observer) {
    auto before = bpf_prog_ids();
    ObserverOptions options;
    options.wakeup_backlog_bytes = wakeup_backlog;
    observer = need(Observer::start(options, [&](const ObservedEvent& ev) {
                      if (const auto* s = std::get_if<SignalEvent>(&ev); s && s->target_pid == static_cast<uint32_t>(target))
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
  std::vector<pid_t> children;
  for (int i = 0; i < senders; ++i) children.push_back(spawn_sender(target, until, report[1], target_per_s / senders));
  while (Clock::now() < until + 200ms) {
    if (observer)
      (void)observer->poll(kLaggingReaderPoll);
    else
      std::this_thread::sleep_for(kLaggingReaderPoll);
  }
  for (pid_t c : children) waitpid(c, nullptr, 0);
  if (stats_before >= 0) {
    for (const auto& after : bpf_prog_run_stats(programs))
      for (const auto& b : run_stats_before)
        if (b.name == after.name) program_stats->emplace_back(b, after);
    set_bpf_stats(stats_before);
  }
  if (observer)
    for (auto n = observer->poll(100ms); n && *n > 0; n = observer->poll(100ms)) {  // drain what is left
    }

  RateRun run{senders, with_observer, target_per_s};
  for (int i = 0; i < senders; ++i) {
    uint64_t n = 0;
    if (read(report[0], &n, sizeof(n)) == sizeof(n)) run.sent += n;
  }
  close(report[0]);
  close(report[1]);
  run.signals_per_s = static_cast<double>(run.sent) / std::chrono::duration<double>(duration).count();
  run.handled = handled;
  if (observer) run.drops = observer->counters().ringbuf_drops - drops_before;
  kill(target, SIGKILL);
  waitpid(target, nullptr, 0);
  return run;
}

}  // namespace
}  // namespace sigdrain::bench

int main(int argc, char** argv) {
  using namespace sigdrain::bench;
  if (argc < 2) die("usage: bench_signal_rate OUT.json [SECONDS]");
  const auto duration = std::chrono::milliseconds(static_cast<int>((argc > 2 ? std::stod(argv[2]) : 2.0) * 1000));

  nlohmann::json runs = nlohmann::json::array();
  // Off, then the observer as the daemon reads it (a wakeup per event) and as trace reads it (batched wakeups).
  struct Variant {
    bool observer;
    uint32_t wakeup_backlog;
    const char* wakeup;
  };
  for (int senders : {1, 2}) {
    for (Variant v : {Variant{false, 0, "-"}, Variant{true, 0, "each event"}, Variant{true, sigdrain::kLaggingReaderWakeupBytes, "batched"}}) {
      RateRun r = measure(senders, v.observer, duration, 0, v.wakeup_backlog);
      std::printf("senders=%d observer=%-3s wakeup=%-10s %12.0f signals/s  handled=%llu drops=%llu\n", r.senders,
                  r.observer ? "on" : "off", v.wakeup, r.signals_per_s, static_cast<unsigned long long>(r.handled),
                  static_cast<unsigned long long>(r.drops));
      runs.push_back({{"senders", r.senders}, {"observer", r.observer}, {"wakeup", v.wakeup},
                      {"signals_per_s", r.signals_per_s}, {"sent", r.sent}, {"handled", r.handled},
                      {"ringbuf_drops", r.drops}});
    }
  }
  nlohmann::json ramp = nlohmann::json::array();
  for (double rate : {25e3, 50e3, 100e3, 200e3, 400e3, 800e3}) {
    RateRun r = measure(2, true, duration, rate);
    std::printf("paced %7.0f/s: %12.0f signals/s  handled=%llu drops=%llu\n", rate, r.signals_per_s,
                static_cast<unsigned long long>(r.handled), static_cast<unsigned long long>(r.drops));
    ramp.push_back({{"target_per_s", rate}, {"signals_per_s", r.signals_per_s}, {"sent", r.sent}, {"handled", r.handled},
                    {"ringbuf_drops", r.drops}});
    if (r.drops > 0 || r.signals_per_s < 0.9 * rate) break;  // the first drops, or the senders' limit
  }
  // One sender, trace's batched wakeups: per signal sent, each program's runs and ns (the target ignores SIGUSR1,
  // so signal_generate runs in the sender's kill() and nothing is delivered).
  std::vector<std::pair<BpfProgRunStats, BpfProgRunStats>> stats;
  RateRun counted = measure(1, true, duration, 0, sigdrain::kLaggingReaderWakeupBytes, &stats);
  nlohmann::json programs = nlohmann::json::array();
  nlohmann::json bpf_stats = {{"available", !stats.empty()}, {"senders", 1}, {"wakeup", "batched"}, {"sent", counted.sent}};
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
                            {"paced", ramp}, {"bpf_stats", bpf_stats}}),
       "writing results");
  return 0;
}

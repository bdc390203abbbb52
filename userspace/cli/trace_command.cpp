#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <set>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "cli/commands.hpp"
#include "containers/resolver.hpp"
#include "observer/observer.hpp"
#include "proc/proc.hpp"
#include "signals/signal_names.hpp"
#include "trace/disposition_seed.hpp"
#include "trace/live_directory.hpp"
#include "trace/record_builder.hpp"
#include "util/result.hpp"
#include "util/json.hpp"

namespace sigdrain {
namespace {

std::atomic<bool> g_stop{false};

void request_stop(int) { g_stop.store(true); }

// SIGINT/SIGTERM end the loop; no SA_RESTART, so a blocking poll returns at once.
void install_stop_handlers() {
  struct sigaction sa {};
  sa.sa_handler = request_stop;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGINT, &sa, nullptr);
  sigaction(SIGTERM, &sa, nullptr);
}

uint64_t signal_mask_for(const std::vector<std::string>& signals) {
  if (signals.empty()) return ~0ULL & ~signal_bit(SIGCHLD);  // all but SIGCHLD: it fires on every exit
  uint64_t mask = 0;
  for (const auto& s : signals) {
    auto n = parse_signal(s);
    if (!n) throw UserError(fmt::format("--signal {}: not a signal name or number (1-64)", s));
    mask |= signal_bit(*n);
  }
  return mask;
}

// Events lost to a full ring buffer are said as they happen (at most once a second) and at the end: a line on
// stderr, and in --json a {"event":"lost"} record, so the rows around them are known to be incomplete.
class LostEventsReport {
 public:
  explicit LostEventsReport(bool json) : json_(json) {}
  // lost_total: events the ring buffer had no room for; skipped_total: program runs the kernel skipped.
  void update(uint64_t lost_total, uint64_t skipped_total, bool at_end) {
    auto now = std::chrono::steady_clock::now();
    if ((lost_total == reported_ && skipped_total == skipped_reported_) ||
        (!at_end && now - last_ < std::chrono::seconds(1)))
      return;
    if (lost_total != reported_)
      std::fprintf(stderr, "sigdrain: %llu events lost so far: the ring buffer was full; signals or exits may be missing\n",
                   static_cast<unsigned long long>(lost_total));
    if (skipped_total != skipped_reported_)
      std::fprintf(stderr,
                   "sigdrain: the kernel skipped %llu runs of trace's BPF programs so far (another BPF program was "
                   "running on that CPU, e.g. a timer's signal came during a socket event); signals, exits or "
                   "dispositions may be missing\n",
                   static_cast<unsigned long long>(skipped_total));
    if (json_) {
      nlohmann::json j = {{"event", "lost"},
                          {"lost_total", lost_total},
                          {"lost_since_last", lost_total - reported_},
                          {"kernel_skipped_total", skipped_total},
                          {"kernel_skipped_since_last", skipped_total - skipped_reported_}};
      std::fputs((json_text(j) + "\n").c_str(), stdout);
      std::fflush(stdout);
    }
    reported_ = lost_total;
    skipped_reported_ = skipped_total;
    last_ = now;
  }

 private:
  bool json_;
  uint64_t reported_ = 0;
  uint64_t skipped_reported_ = 0;
  std::chrono::steady_clock::time_point last_{};
};

struct TraceFilter {
  std::set<std::string> container_ids;
  std::set<uint32_t> pids;

  bool matches(const TraceRecord& r) const {
    if (!container_ids.empty()) {
      bool in = (r.target.container && container_ids.contains(r.target.container->id)) ||
                (r.sender.container && container_ids.contains(r.sender.container->id));
      if (!in) return false;
    }
    if (!pids.empty() && !pids.contains(r.target.pid) && !pids.contains(r.sender.pid)) return false;
    return true;
  }
};

}  // namespace

int run_trace(const TraceOptions& options) {
  set_libbpf_verbose(options.verbose);
  if (::geteuid() != 0) throw UserError("trace needs root: it loads BPF programs");
  ProcFs proc;
  const HostRoots roots;
  ContainerResolver resolver{roots};
  TraceFilter filter;
  std::vector<ContainerInfo> running;  // named containers running now: the trace ends once they all are gone
  for (const auto& name : options.containers) {
    ContainerInfo info = value_or_throw(resolver.find(name));
    filter.container_ids.insert(info.id);
    if (info.running && !info.cgroup_path.empty()) running.push_back(std::move(info));
  }
  for (int pid : options.pids) {
    if (!proc.status(pid)) throw UserError(fmt::format("--pid {}: no such process", pid));
    filter.pids.insert(static_cast<uint32_t>(pid));
  }
  auto all_named_gone = [&] {
    if (running.empty() || !options.pids.empty()) return false;
    return std::all_of(running.begin(), running.end(),
                       [&](const ContainerInfo& c) { return ::access((roots.cgroup2 + c.cgroup_path).c_str(), F_OK) != 0; });
  };

  ObserverOptions obs_options;
  obs_options.signal_mask = signal_mask_for(options.signals);
  obs_options.track_dispositions = true;
  obs_options.wakeup_backlog_bytes = kLaggingReaderWakeupBytes;  // a signal storm's senders pay no wakeup each
  obs_options.per_cpu_rings = true;  // nor share one ring's lock across CPUs; events still come in time order

  LiveProcessDirectory directory(proc, resolver);
  std::unique_ptr<Observer> observer;
  RecordBuilder builder(
      directory,
      [&](uint64_t cgroup_id) -> std::optional<int64_t> {
        if (!observer || !observer->observes_requests()) return std::nullopt;
        return observer->cgroup_stats(cgroup_id).value_or(CgroupStats{}).inflight;
      },
      monotonic_ns_to_wall);

  auto emit = [&](const TraceRecord& r) {
    if (!filter.matches(r)) return;
    if (options.json) {
      std::fputs((json_text(to_json(r)) + "\n").c_str(), stdout);
    } else {
      if (r.type == TraceEventType::deliver && !options.deliveries) return;
      std::fputs((human_row(r) + "\n").c_str(), stdout);
    }
    std::fflush(stdout);
  };

  observer = value_or_throw(Observer::start(obs_options, [&](const ObservedEvent& ev) {
    std::visit(
        [&](const auto& e) {
          TraceRecord r = builder.build(e);
          // Exits are reported for processes a traced signal was sent to, or that a signal killed; not every exit on the node.
          if (r.type == TraceEventType::exit && !r.killed_by && !r.after_signal_ms) return;
          emit(r);
        },
        ev);
  }));

  // Attached first, then seeded: a process that changes a disposition meanwhile is seen by the programs, whose
  // record wins; one that starts meanwhile from a parent not yet seeded stays "unknown" until it sets one.
  if (auto why = observer->dispositions_untracked_reason(); !why.empty()) {
    std::fprintf(stderr, "sigdrain: dispositions are not tracked, every signal's reads \"unknown\": %s\n", why.c_str());
  } else {
    size_t unseeded = 0;
    for (pid_t pid : proc.all_pids())
      if (auto seed = read_disposition_seed(proc, pid); seed && !observer->seed_dispositions(*seed)) ++unseeded;
    if (unseeded > 0)
      std::fprintf(stderr, "sigdrain: the dispositions of %zu processes could not be recorded (map full): they read \"unknown\"\n",
                   unseeded);
  }

  install_stop_handlers();
  if (!options.json) {
    std::fputs((human_header() + "\n").c_str(), stdout);
    std::fflush(stdout);
  }
  auto deadline = options.duration_s
                      ? std::chrono::steady_clock::now() + std::chrono::duration_cast<std::chrono::steady_clock::duration>(
                                                               std::chrono::duration<double>(*options.duration_s))
                      : std::chrono::steady_clock::time_point::max();
  LostEventsReport lost{options.json};
  auto next_gone_check = std::chrono::steady_clock::now();
  while (!g_stop.load() && std::chrono::steady_clock::now() < deadline) {
    auto r = observer->poll(kLaggingReaderPoll);
    if (!r) throw UserError(r.error().message);
    if (std::chrono::steady_clock::now() < next_gone_check) continue;
    next_gone_check = std::chrono::steady_clock::now() + std::chrono::seconds(1);
    lost.update(observer->counters().ringbuf_drops, observer->kernel_skipped_runs(), false);
    if (all_named_gone()) {
      // Their cgroups are removed after their last process exited: every event of theirs is in the ring buffer.
      if (auto drained = observer->drain(); !drained) throw UserError(drained.error().message);
      std::fprintf(stderr, "sigdrain: the traced container%s stopped; trace ends\n", running.size() > 1 ? "s" : "");
      break;
    }
  }
  // Whatever was written since the last poll, or is held to be put in order, is shown before trace ends.
  if (auto drained = observer->drain(); !drained) throw UserError(drained.error().message);
  lost.update(observer->counters().ringbuf_drops, observer->kernel_skipped_runs(), true);
  return kExitOk;
}

}  // namespace sigdrain

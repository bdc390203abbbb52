#include <signal.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <set>

#include <fmt/format.h>

#include "cli/commands.hpp"
#include "containers/resolver.hpp"
#include "observer/observer.hpp"
#include "proc/proc.hpp"
#include "signals/signal_names.hpp"
#include "trace/live_directory.hpp"
#include "trace/record_builder.hpp"
#include "util/result.hpp"

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
  if (signals.empty()) return ~0ULL & ~(1ULL << SIGCHLD) & ~1ULL;  // all but SIGCHLD: it fires on every exit
  uint64_t mask = 0;
  for (const auto& s : signals) {
    auto n = parse_signal(s);
    if (!n) throw UserError(fmt::format("--signal {}: not a signal name or number (1-64)", s));
    mask |= 1ULL << *n;
  }
  return mask;
}

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
  ProcFs proc;
  ContainerResolver resolver{HostRoots{}};
  TraceFilter filter;
  for (const auto& name : options.containers) filter.container_ids.insert(value_or_throw(resolver.find(name)).id);
  for (int pid : options.pids) filter.pids.insert(static_cast<uint32_t>(pid));

  ObserverOptions obs_options;
  obs_options.signal_mask = signal_mask_for(options.signals);

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
      std::fputs((to_json(r).dump() + "\n").c_str(), stdout);
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

  install_stop_handlers();
  if (!options.json) {
    std::fputs((human_header() + "\n").c_str(), stdout);
    std::fflush(stdout);
  }
  auto deadline = options.duration_s
                      ? std::chrono::steady_clock::now() + std::chrono::duration_cast<std::chrono::steady_clock::duration>(
                                                               std::chrono::duration<double>(*options.duration_s))
                      : std::chrono::steady_clock::time_point::max();
  while (!g_stop.load() && std::chrono::steady_clock::now() < deadline) {
    auto r = observer->poll(std::chrono::milliseconds(100));
    if (!r) throw UserError(r.error().message);
  }
  auto counters = observer->counters();
  if (counters.ringbuf_drops > 0)
    std::fprintf(stderr, "sigdrain: %llu events were lost: the ring buffer was full\n",
                 static_cast<unsigned long long>(counters.ringbuf_drops));
  return kExitOk;
}

}  // namespace sigdrain

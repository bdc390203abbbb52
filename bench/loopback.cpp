// Figure 2: the cost sigdrain's probes add to each send/recv and to each connection open/close, measured with
// Google Benchmark in one process, interleaving runs without and with the Observer loaded, plus the kernel's
// own per-program run-time statistics (kernel.bpf_stats_enabled) where it allows them.
//
// usage: bench_loopback OUT.json [ROUNDS] [MIN_TIME_S]
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmath>
#include <cstdio>
#include <map>
#include <memory>
#include <set>

#include <benchmark/benchmark.h>
#include <fmt/format.h>

#include "common.hpp"
#include "observer/observer.hpp"

namespace sigdrain::bench {
namespace {

constexpr size_t kMessageBytes = 64;
constexpr int kCallsPerPingPong = 4;  // send, recv, send, recv

std::unique_ptr<Observer> g_observer;
std::set<uint32_t> g_observer_progs;

// watch_all: every cgroup's sockets are counted (as `trace` does); else none is watched, which is what a send or
// receive of a process outside the daemon's containers costs.
void set_probes(bool on, bool watch_all = true) {
  if (!on) {
    g_observer.reset();
    g_observer_progs.clear();
    return;
  }
  if (g_observer) return;
  auto before = bpf_prog_ids();
  ObserverOptions options;
  options.watch_all_cgroups = watch_all;
  g_observer = need(Observer::start(options, [](const ObservedEvent&) {}), "starting the observer");
  if (!g_observer->observes_requests()) die("this kernel lacks sock:sock_send_length/sock_recv_length: nothing to measure");
  g_observer_progs = added(before, bpf_prog_ids());
}

// One request/response round trip on an accepted (inbound) connection, as a server sees it: the server end
// receives (request in flight) and sends (answered); the client end does the opposite.
void ping_pong(int client, int server) {
  char buf[kMessageBytes] = {};
  if (send(client, buf, sizeof(buf), 0) != kMessageBytes || recv(server, buf, sizeof(buf), MSG_WAITALL) != kMessageBytes ||
      send(server, buf, sizeof(buf), 0) != kMessageBytes || recv(client, buf, sizeof(buf), MSG_WAITALL) != kMessageBytes)
    die("ping-pong on loopback failed");
}

void bm_send_recv(benchmark::State& state) {
  set_probes(state.range(0) != 0);
  auto listener = need(listen_loopback(16), "listener");
  auto pair = need(tcp_pair(listener), "tcp pair");
  for (auto _ : state) ping_pong(pair.client.get(), pair.server.get());
  state.SetItemsProcessed(state.iterations() * kCallsPerPingPong);
}

void bm_connect_close(benchmark::State& state) {
  set_probes(state.range(0) != 0);
  auto listener = need(listen_loopback(128), "listener");
  const linger abort_on_close{1, 0};  // RST instead of TIME_WAIT, so the loop never runs out of ports
  for (auto _ : state) {
    auto pair = need(tcp_pair(listener), "tcp pair");
    setsockopt(pair.client.get(), SOL_SOCKET, SO_LINGER, &abort_on_close, sizeof(abort_on_close));
  }
}

struct Measured {
  std::string kind;
  bool probes = false;
  int round = 0;
  double ns_per_iteration = 0;
};

// Keeps the console output and collects each run's time per iteration.
class CollectingReporter : public benchmark::ConsoleReporter {
 public:
  explicit CollectingReporter(std::map<std::string, Measured> by_name)
      : ConsoleReporter(OO_None), by_name_(std::move(by_name)) {}
  void ReportRuns(const std::vector<Run>& runs) override {
    ConsoleReporter::ReportRuns(runs);
    for (const Run& run : runs) {
      for (auto& [name, m] : by_name_) {
        if (run.benchmark_name().rfind(name, 0) != 0) continue;
        Measured done = m;
        // CPU time, not wall time: the loop runs in one thread (loopback delivery included), and on a shared
        // machine wall time also counts the time other tenants held the CPU.
        done.ns_per_iteration = run.GetAdjustedCPUTime() * 1e9 / benchmark::GetTimeUnitMultiplier(run.time_unit);
        results.push_back(done);
      }
    }
  }
  std::vector<Measured> results;

 private:
  std::map<std::string, Measured> by_name_;
};

nlohmann::json summarize(const std::vector<Measured>& results, const std::string& kind, double calls_per_iteration) {
  std::vector<double> off, on;
  nlohmann::json rounds = nlohmann::json::array();
  for (const Measured& m : results) {
    if (m.kind != kind) continue;
    double per_call = m.ns_per_iteration / calls_per_iteration;
    (m.probes ? on : off).push_back(per_call);
    rounds.push_back({{"round", m.round}, {"probes", m.probes}, {"ns", per_call}});
  }
  double off_ns = median(off), on_ns = median(on);
  return {{"off_ns", off_ns}, {"on_ns", on_ns}, {"added_ns", on_ns - off_ns}, {"runs", rounds}};
}

// The floor: an empty program on sock:sock_recv_length (bench/common.hpp's TracepointProgram), and beside it the
// clock-read program, on the same receives.
nlohmann::json floor_run_stats() {
  nlohmann::json out = {{"available", false}};
  TracepointProgram empty("sock/sock_recv_length", TracepointProgram::Body::empty),
      clock_read("sock/sock_recv_length", TracepointProgram::Body::clock_read);
  int previous = empty.id() ? set_bpf_stats(1) : -1;
  if (previous < 0) return out;
  // Both run on every receive of one workload.
  std::set<uint32_t> ids{empty.id()};
  if (clock_read.id()) ids.insert(clock_read.id());
  auto before = bpf_prog_run_stats(ids);
  auto listener = need(listen_loopback(16), "listener");
  auto pair = need(tcp_pair(listener), "tcp pair");
  for (int i = 0; i < 200000; ++i) ping_pong(pair.client.get(), pair.server.get());
  auto after = bpf_prog_run_stats(ids);
  set_bpf_stats(previous);
  const double floor_ns = ns_per_run(before, after, TracepointProgram::kEmptyName),
               clock_ns = ns_per_run(before, after, TracepointProgram::kClockReadName);
  if (std::isnan(floor_ns)) return out;
  out = {{"available", true}, {"ns_per_run", floor_ns}};
  if (!std::isnan(clock_ns)) out["clock_read_ns_per_run"] = clock_ns;
  return out;
}

// Per-program cost as the kernel accounts it: run_time_ns / run_cnt over a fixed ping-pong and connect workload.
nlohmann::json bpf_run_stats(bool watch_all) {
  nlohmann::json out = {{"available", false}, {"watched", watch_all}};
  set_probes(true, watch_all);
  int previous = set_bpf_stats(1);
  if (previous < 0) {
    out["reason"] = "the kernel refused kernel.bpf_stats_enabled=1";
    set_probes(false);
    return out;
  }
  auto before = bpf_prog_run_stats(g_observer_progs);
  auto listener = need(listen_loopback(128), "listener");
  auto pair = need(tcp_pair(listener), "tcp pair");
  for (int i = 0; i < 200000; ++i) ping_pong(pair.client.get(), pair.server.get());
  const linger abort_on_close{1, 0};
  for (int i = 0; i < 5000; ++i) {
    auto p = need(tcp_pair(listener), "tcp pair");
    setsockopt(p.client.get(), SOL_SOCKET, SO_LINGER, &abort_on_close, sizeof(abort_on_close));
  }
  auto after = bpf_prog_run_stats(g_observer_progs);
  set_bpf_stats(previous);
  set_probes(false);

  nlohmann::json progs = nlohmann::json::array();
  for (const auto& a : after) {
    for (const auto& b : before) {
      if (a.name != b.name) continue;
      uint64_t runs = a.run_cnt - b.run_cnt;
      if (runs == 0) continue;
      progs.push_back({{"program", a.name}, {"runs", runs},
                       {"ns_per_run", static_cast<double>(a.run_time_ns - b.run_time_ns) / static_cast<double>(runs)}});
    }
  }
  out["available"] = true;
  out["programs"] = progs;
  return out;
}

}  // namespace
}  // namespace sigdrain::bench

int main(int argc, char** argv) {
  using namespace sigdrain::bench;
  if (argc < 2) die("usage: bench_loopback OUT.json [ROUNDS] [MIN_TIME_S]");
  const int rounds = argc > 2 ? std::stoi(argv[2]) : 3;
  const double min_time = argc > 3 ? std::stod(argv[3]) : 0.5;

  std::map<std::string, Measured> by_name;
  for (int round = 0; round < rounds; ++round) {
    // Alternate the order inside each round so that neither variant always runs first.
    for (int probes : round % 2 == 0 ? std::vector{0, 1} : std::vector{1, 0}) {
      std::string send_recv = fmt::format("send_recv/probes:{}/round:{}", probes, round);
      benchmark::RegisterBenchmark(send_recv.c_str(), bm_send_recv)->Arg(probes)->MinTime(min_time);
      by_name[send_recv] = {"send_recv", probes != 0, round};
      std::string connect_close = fmt::format("connect_close/probes:{}/round:{}", probes, round);
      benchmark::RegisterBenchmark(connect_close.c_str(), bm_connect_close)->Arg(probes)->MinTime(min_time);
      by_name[connect_close] = {"connect_close", probes != 0, round};
    }
  }
  int bench_argc = 1;
  benchmark::Initialize(&bench_argc, argv);
  CollectingReporter reporter(by_name);
  benchmark::RunSpecifiedBenchmarks(&reporter);
  set_probes(false);

  nlohmann::json out = {
      {"message_bytes", kMessageBytes},
      {"send_recv", summarize(reporter.results, "send_recv", kCallsPerPingPong)},
      {"connect_close", summarize(reporter.results, "connect_close", 1)},
      {"bpf_stats", bpf_run_stats(true)},
      {"bpf_stats_unwatched", bpf_run_stats(false)},
      {"bpf_stats_empty_program", floor_run_stats()},
  };
  need(write_json(argv[1], out), "writing results");
  return 0;
}

// Figure 4: release latency. A slow TCP server in a scratch cgroup answers one request at a time; the drain logic
// the daemon runs (Observer cgroup aggregates -> DrainTracker, sampled every 5 ms) waits for it. The figure is the
// time from the server's last response to the moment the tracker says idle, beyond the quiet window.
//
// usage: bench_release_latency OUT.json [REPEATS] [QUIET_MS] [SERVER_DELAY_MS]
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <random>
#include <thread>

#include "common.hpp"
#include "observer/observer.hpp"
#include "policy/drain.hpp"

namespace sigdrain::bench {
namespace {

using namespace std::chrono_literals;
constexpr auto kSamplePeriod = 5ms;  // as the daemon samples a draining container

uint64_t monotonic_ns() {
  timespec ts{};
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<uint64_t>(ts.tv_sec) * 1'000'000'000ULL + static_cast<uint64_t>(ts.tv_nsec);
}

// Reads a request, sleeps `delay` plus up to one sample period (so the answer falls at a random phase of the 5 ms
// sampling, not always the same one), answers and reports the answer's CLOCK_MONOTONIC time on `sent_at`.
[[noreturn]] void serve(int listener, std::chrono::milliseconds delay, int sent_at) {
  std::mt19937 random(static_cast<unsigned>(getpid()));
  std::uniform_int_distribution<int> jitter_us(0, static_cast<int>(std::chrono::microseconds(kSamplePeriod).count()));
  for (;;) {
    int conn = accept(listener, nullptr, nullptr);
    if (conn < 0) _exit(1);
    char buf[64];
    while (read(conn, buf, sizeof(buf)) > 0) {
      std::this_thread::sleep_for(delay + std::chrono::microseconds(jitter_us(random)));
      uint64_t now = monotonic_ns();
      (void)!write(conn, "ok\n", 3);
      (void)!write(sent_at, &now, sizeof(now));
    }
    close(conn);
  }
}

Clock::time_point steady_from_monotonic_ns(uint64_t ns) {
  // libstdc++'s steady_clock is CLOCK_MONOTONIC, the clock bpf_ktime_get_ns() reads.
  return Clock::time_point(std::chrono::duration_cast<Clock::duration>(std::chrono::nanoseconds(ns)));
}

}  // namespace
}  // namespace sigdrain::bench

int main(int argc, char** argv) {
  using namespace sigdrain;
  using namespace sigdrain::bench;
  if (argc < 2) die("usage: bench_release_latency OUT.json [REPEATS] [QUIET_MS] [SERVER_DELAY_MS]");
  const int repeats = argc > 2 ? std::stoi(argv[2]) : 50;
  const std::chrono::milliseconds quiet(argc > 3 ? std::stoi(argv[3]) : 50);
  const std::chrono::milliseconds delay(argc > 4 ? std::stoi(argv[4]) : 20);

  auto observer = need(Observer::start(ObserverOptions{}, [](const ObservedEvent&) {}), "starting the observer");
  if (!observer->observes_requests()) die("this kernel lacks sock:sock_send_length/sock_recv_length");

  ScratchCgroup cgroup("sigdrain-bench");
  if (cgroup.id() == 0) die("cannot create a scratch cgroup");
  auto listener = need(listen_loopback(16), "listener");
  int go[2], sent_at[2];
  if (pipe(go) != 0 || pipe(sent_at) != 0) die("pipe");
  pid_t server = fork();
  if (server < 0) die("fork");
  if (server == 0) {
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    char c;
    (void)!read(go[0], &c, 1);  // serve only once inside the scratch cgroup
    serve(listener.fd.get(), delay, sent_at[1]);
  }
  need(cgroup.enter(server), "entering the scratch cgroup");
  (void)!write(go[1], "g", 1);

  std::vector<double> beyond_quiet_ms;
  uint64_t missed = 0;
  for (int i = 0; i < repeats; ++i) {
    auto client = need(connect_loopback(listener.port), "connect");
    if (write(client.get(), "req\n", 4) != 4) die("request");
    const auto start = Clock::now();
    auto times = need(plan_drain(start, 10s, quiet), "plan");
    uint64_t completed = observer->cgroup_stats(cgroup.id()).value_or(CgroupStats{}).requests_completed;
    DrainTracker tracker(times, quiet, completed);
    ActivityClock activity;
    Clock::time_point idle_at{};
    for (;;) {
      auto stats = observer->cgroup_stats(cgroup.id()).value_or(CgroupStats{});
      const Clock::time_point now = Clock::now();
      DrainSample sample{now, stats.inflight, stats.open_inbound, stats.requests_completed,
                         activity.seen(stats.activity, now)};
      DrainState state = tracker.update(sample);
      if (state == DrainState::idle) {
        idle_at = sample.now;
        break;
      }
      if (state == DrainState::deadline) break;
      std::this_thread::sleep_for(kSamplePeriod);
    }
    uint64_t answered_ns = 0;
    if (read(sent_at[0], &answered_ns, sizeof(answered_ns)) != sizeof(answered_ns)) die("server report");
    char buf[8];
    (void)!read(client.get(), buf, sizeof(buf));
    if (idle_at == Clock::time_point{} || idle_at < steady_from_monotonic_ns(answered_ns)) {
      ++missed;  // idle before the answer (the request went unseen) or never: a wrong decision, not a latency
      continue;
    }
    auto beyond = idle_at - steady_from_monotonic_ns(answered_ns) - quiet;
    beyond_quiet_ms.push_back(std::chrono::duration<double, std::milli>(beyond).count());
  }
  kill(server, SIGKILL);
  waitpid(server, nullptr, 0);

  nlohmann::json out = {
      {"repeats", repeats},           {"quiet_ms", quiet.count()},
      {"server_delay_ms", delay.count()}, {"sample_period_ms", kSamplePeriod.count()},
      {"wrong_decisions", missed},    {"p50_ms", percentile(beyond_quiet_ms, 50)},
      {"p99_ms", percentile(beyond_quiet_ms, 99)}, {"max_ms", percentile(beyond_quiet_ms, 100)},
      {"min_ms", percentile(beyond_quiet_ms, 0)},
  };
  std::printf("release latency beyond a %lld ms quiet window: p50 %.2f ms, p99 %.2f ms (%zu samples, %llu wrong)\n",
              static_cast<long long>(quiet.count()), out["p50_ms"].get<double>(), out["p99_ms"].get<double>(),
              beyond_quiet_ms.size(), static_cast<unsigned long long>(missed));
  need(write_json(argv[1], out), "writing results");
  return 0;
}

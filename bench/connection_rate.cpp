// Figure 3, connections: new connections per second at increasing paced rates, each carrying one request (connect,
// a 1-byte request, a 1-byte answer, close with RST so no TIME_WAIT piles up), to servers in a scratch cgroup,
// with the Observer loaded in this process. Per rate: the rate reached, the requests the BPF programs counted in
// the servers' cgroup against those made, the connections still counted open afterwards (0 when every close was
// seen), and the drop counters (ring buffer, socket map, cgroup map). The ramp stops after the first rate the
// machine cannot reach (below 90 % of the target): that rate is the machine's limit, not sigdrain's.
//
// usage: bench_connection_rate OUT.json [SECONDS_PER_RATE]
#include <netinet/in.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <thread>

#include "common.hpp"
#include "observer/observer.hpp"

namespace sigdrain::bench {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;
constexpr int kPairs = 2;  // client/server process pairs: one per CPU here
constexpr uint64_t kRates[] = {1000, 2000, 5000, 10000, 20000, 40000, 80000};

// Accepts forever: reads the request byte, answers one byte, waits for the client's close.
[[noreturn]] void serve(int listener) {
  prctl(PR_SET_PDEATHSIG, SIGKILL);
  for (;;) {
    UniqueFd conn(accept(listener, nullptr, nullptr));
    if (!conn) continue;
    char byte = 0;
    if (recv(conn.get(), &byte, 1, 0) == 1 && send(conn.get(), &byte, 1, MSG_NOSIGNAL) == 1)
      (void)recv(conn.get(), &byte, 1, 0);  // 0 or ECONNRESET: the client is done
  }
}

// Opens connections at `rate` per second until `until`, each carrying one request; writes how many to `report`.
pid_t spawn_client(uint16_t port, double rate, Clock::time_point until, int report) {
  pid_t pid = fork();
  if (pid < 0) die("fork");
  if (pid != 0) return pid;
  prctl(PR_SET_PDEATHSIG, SIGKILL);
  const auto interval = std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(1.0 / rate));
  uint64_t done = 0;
  auto next = Clock::now();
  while (next < until) {
    if (auto now = Clock::now(); now < next) std::this_thread::sleep_for(next - now);
    next += interval;
    auto fd = connect_loopback(port);
    if (!fd) continue;
    char byte = 'q';
    if (send(fd->get(), &byte, 1, MSG_NOSIGNAL) == 1 && recv(fd->get(), &byte, 1, 0) == 1) ++done;
    linger reset{1, 0};
    setsockopt(fd->get(), SOL_SOCKET, SO_LINGER, &reset, sizeof reset);
  }
  (void)!write(report, &done, sizeof done);
  _exit(0);
}

}  // namespace
}  // namespace sigdrain::bench

int main(int argc, char** argv) {
  using namespace sigdrain;
  using namespace sigdrain::bench;
  if (argc < 2) die("usage: bench_connection_rate OUT.json [SECONDS_PER_RATE]");
  const auto duration = std::chrono::duration<double>(argc > 2 ? std::stod(argv[2]) : 2.0);

  ScratchCgroup cgroup("sigdrain-bench-connections");
  if (cgroup.id() == 0) die("cannot create a scratch cgroup");
  auto listener = need(listen_loopback(4096), "listener");
  std::vector<pid_t> servers;
  for (int i = 0; i < kPairs; ++i) {
    pid_t pid = fork();
    if (pid < 0) die("fork");
    if (pid == 0) serve(listener.fd.get());
    need(cgroup.enter(pid), "moving a server into the scratch cgroup");
    servers.push_back(pid);
  }
  auto observer = need(Observer::start(ObserverOptions{}, [](const ObservedEvent&) {}), "starting the observer");

  nlohmann::json runs = nlohmann::json::array();
  for (uint64_t rate : kRates) {
    auto stats_before = observer->cgroup_stats(cgroup.id()).value_or(CgroupStats{});
    auto counters_before = observer->counters();
    int report[2];
    if (pipe(report) != 0) die("pipe");
    auto start = Clock::now();
    auto until = start + std::chrono::duration_cast<Clock::duration>(duration);
    std::vector<pid_t> clients;
    for (int i = 0; i < kPairs; ++i)
      clients.push_back(spawn_client(listener.port, static_cast<double>(rate) / kPairs, until, report[1]));
    while (Clock::now() < until) (void)observer->poll(50ms);
    for (pid_t c : clients) waitpid(c, nullptr, 0);
    double elapsed = std::chrono::duration<double>(Clock::now() - start).count();
    uint64_t made = 0;
    for (int i = 0; i < kPairs; ++i) {
      uint64_t n = 0;
      if (read(report[0], &n, sizeof n) == sizeof n) made += n;
    }
    close(report[0]);
    close(report[1]);
    std::this_thread::sleep_for(300ms);  // the last closes reach the servers
    (void)observer->poll(0ms);
    auto stats = observer->cgroup_stats(cgroup.id()).value_or(CgroupStats{});
    auto counters = observer->counters();
    double reached = static_cast<double>(made) / elapsed;
    nlohmann::json run = {
        {"target_per_s", rate},
        {"connections_per_s", reached},
        {"connections", made},
        {"requests_counted", stats.requests_completed - stats_before.requests_completed},
        {"open_after", stats.open_inbound},
        {"inflight_after", stats.inflight},
        {"adopted_open_after", stats.adopted_open},
        {"ringbuf_drops", counters.ringbuf_drops - counters_before.ringbuf_drops},
        {"socket_map_failures", counters.socket_state_failures - counters_before.socket_state_failures},
        {"cgroup_map_failures", counters.cgroup_state_failures - counters_before.cgroup_state_failures},
    };
    std::printf(
        "target %6llu/s: %8.0f connections/s, %llu made, %llu counted, open after %lld, drops ring %llu "
        "socket map %llu cgroup map %llu\n",
        static_cast<unsigned long long>(rate), reached, static_cast<unsigned long long>(made),
        static_cast<unsigned long long>(run["requests_counted"].get<uint64_t>()),
        static_cast<long long>(stats.open_inbound),
        static_cast<unsigned long long>(run["ringbuf_drops"].get<uint64_t>()),
        static_cast<unsigned long long>(run["socket_map_failures"].get<uint64_t>()),
        static_cast<unsigned long long>(run["cgroup_map_failures"].get<uint64_t>()));
    runs.push_back(run);
    if (reached < 0.9 * static_cast<double>(rate)) break;  // the machine's limit
  }
  for (pid_t s : servers) {
    kill(s, SIGKILL);
    waitpid(s, nullptr, 0);
  }
  need(write_json(argv[1], {{"seconds_per_rate", duration.count()}, {"pairs", kPairs}, {"runs", runs}}),
       "writing results");
  return 0;
}

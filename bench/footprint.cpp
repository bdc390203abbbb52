// Figures 5 and 6: the daemon's footprint (RSS, CPU) idle and with many open loopback connections held by helper
// processes, and how sigdrain's costs grow: BPF map memory, and the user-space scan of the socket map at each
// connection count (measured on an Observer in this process, the same code the daemon runs).
//
// usage: bench_footprint OUT.json SIGDRAIN_BIN|- STATE_DIR CONNECTIONS [DAEMON_ARG...]
//   SIGDRAIN_BIN "-" skips the daemon (figure 5) and measures figure 6 only. The daemon's output goes to
//   STATE_DIR.log, outside the state directory, which the daemon owns.
#include <fcntl.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <fstream>
#include <thread>

#include "common.hpp"
#include "observer/observer.hpp"

namespace sigdrain::bench {
namespace {

using namespace std::chrono_literals;
constexpr auto kCpuWindow = 5s;

pid_t start_daemon(const std::string& sigdrain, const std::string& state_dir, const std::vector<std::string>& extra) {
  // Unpinned: nothing of a bench stays attached after it (the pins' memory is the same maps, charged alike).
  std::vector<std::string> args = {sigdrain, "daemon", "--state-dir", state_dir, "--bpf-pin-dir", "none"};
  args.insert(args.end(), extra.begin(), extra.end());
  return spawn_logged(args, state_dir + ".log");
}

bool alive(pid_t pid) { return waitpid(pid, nullptr, WNOHANG) == 0; }

std::string daemon_log(const std::string& state_dir) {
  std::ifstream in(state_dir + ".log");
  return std::string(std::istreambuf_iterator<char>(in), {});
}

// Holds inbound connections: accepts forever and writes one byte on each (a server's greeting), so each is an
// owned, counted inbound connection with nothing in flight.
[[noreturn]] void hold_server_side(int listener) {
  prctl(PR_SET_PDEATHSIG, SIGKILL);
  std::vector<int> held;
  for (;;) {
    int conn = accept(listener, nullptr, nullptr);
    if (conn < 0) {
      if (errno == EINTR || errno == ECONNABORTED) continue;
      std::this_thread::sleep_for(10ms);  // EMFILE: keep what we hold
      continue;
    }
    (void)!write(conn, "g", 1);
    held.push_back(conn);
  }
}

// Opens connections until it holds the count read from `command`, then writes the count it reached to `ack`.
[[noreturn]] void hold_client_side(uint16_t port, int command, int ack) {
  prctl(PR_SET_PDEATHSIG, SIGKILL);
  std::vector<UniqueFd> held;
  uint32_t target = 0;
  while (read(command, &target, sizeof(target)) == sizeof(target)) {
    while (held.size() < target) {
      auto fd = connect_loopback(port);
      if (!fd) break;
      held.push_back(std::move(*fd));
    }
    uint32_t reached = static_cast<uint32_t>(held.size());
    (void)!write(ack, &reached, sizeof(reached));
  }
  _exit(0);
}

double median_scan_ms(const Observer& observer, size_t& records) {
  return median_ms(5, [&] { records = observer.sockets().size(); });
}

}  // namespace
}  // namespace sigdrain::bench

int main(int argc, char** argv) {
  using namespace sigdrain;
  using namespace sigdrain::bench;
  if (argc < 5) die("usage: bench_footprint OUT.json SIGDRAIN_BIN|- STATE_DIR CONNECTIONS [DAEMON_ARG...]");
  const std::string sigdrain_bin = argv[2], state_dir = argv[3];
  const uint32_t wanted = static_cast<uint32_t>(std::stoul(argv[4]));
  std::vector<std::string> daemon_args(argv + 5, argv + argc);
  const bool with_daemon = sigdrain_bin != "-";

  // Helpers inherit the raised limit; each end of the connections lives in its own process.
  const uint64_t nofile = raise_nofile_limit();
  const uint32_t connections = static_cast<uint32_t>(std::min<uint64_t>(wanted, nofile > 64 ? nofile - 64 : 0));
  nlohmann::json out = {{"connections_wanted", wanted}, {"connections_limit_per_process", nofile}};

  pid_t daemon = -1;
  if (with_daemon) {
    daemon = start_daemon(sigdrain_bin, state_dir, daemon_args);
    std::this_thread::sleep_for(2s);  // load, attach, first container discovery
    if (!alive(daemon)) die("the daemon exited at start:\n" + daemon_log(state_dir));
    std::printf("daemon idle: measuring over %lld s\n", static_cast<long long>(kCpuWindow.count()));
    out["daemon_idle"] = footprint_over(daemon, kCpuWindow);
  }

  auto maps_before = bpf_map_ids();
  auto observer = need(Observer::start(ObserverOptions{}, [](const ObservedEvent&) {}), "starting the observer");
  auto own_maps = added(maps_before, bpf_map_ids());
  nlohmann::json maps = nlohmann::json::array();
  for (const auto& m : bpf_map_memory(own_maps)) {
    maps.push_back({{"map", m.name}, {"max_entries", m.max_entries}, {"memlock_bytes", m.memlock_bytes}});
    if (m.keyed && m.max_entries > 0)
      maps.back()["bytes_per_entry"] = static_cast<double>(m.memlock_bytes) / m.max_entries;
  }
  out["bpf_maps"] = maps;

  auto listener = need(listen_loopback(4096), "listener");
  pid_t server_side = fork();
  if (server_side == 0) hold_server_side(listener.fd.get());
  int command[2], ack[2];
  if (pipe(command) != 0 || pipe(ack) != 0) die("pipe");
  pid_t client_side = fork();
  if (client_side == 0) hold_client_side(listener.port, command[0], ack[1]);

  nlohmann::json stages = nlohmann::json::array();
  for (uint32_t target : {0u, std::min(1000u, connections), connections}) {
    (void)!write(command[1], &target, sizeof(target));
    uint32_t reached = 0;
    if (read(ack[0], &reached, sizeof(reached)) != sizeof(reached)) die("connection holder");
    std::this_thread::sleep_for(1s);  // the server side greets the last ones
    size_t records = 0;
    double scan_ms = median_scan_ms(*observer, records);
    nlohmann::json stage = {{"connections", reached}, {"socket_map_records", records}, {"sockets_scan_ms", scan_ms}};
    if (with_daemon) {
      if (!alive(daemon)) die("the daemon exited:\n" + daemon_log(state_dir));
      auto s = need(sample_process(daemon), "sampling the daemon");
      stage["daemon_rss_kb"] = s.rss_kb;
      stage["daemon_hwm_kb"] = s.hwm_kb;
    }
    std::printf("%u connections: socket map records %zu, sockets() scan %.2f ms\n", reached, records, scan_ms);
    stages.push_back(stage);
    if (reached < target) {
      out["connections_note"] = "the client side could open only " + std::to_string(reached) + " connections";
      break;
    }
  }
  out["stages"] = stages;
  if (with_daemon) {
    std::printf("daemon with %u connections: measuring over %lld s\n", stages.back()["connections"].get<uint32_t>(),
                static_cast<long long>(kCpuWindow.count()));
    out["daemon_loaded"] = footprint_over(daemon, kCpuWindow);
    if (!alive(daemon)) die("the daemon exited:\n" + daemon_log(state_dir));
    out["daemon_loaded"]["connections"] = stages.back()["connections"];
    kill(daemon, SIGTERM);
    waitpid(daemon, nullptr, 0);
  }
  out["counters"] = {{"socket_state_failures", observer->counters().socket_state_failures}};
  kill(client_side, SIGKILL);
  kill(server_side, SIGKILL);
  waitpid(client_side, nullptr, 0);
  waitpid(server_side, nullptr, 0);
  need(write_json(argv[1], out), "writing results");
  return 0;
}

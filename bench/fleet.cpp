// Figures 5 and 6 with many containers: the daemon guarding a synthetic CRI-O fleet (tests/load/, `sigdrain_fleet`):
// how long it takes to guard them all, its RSS and CPU idle and with connections open to the fleet, how long it
// takes to let them all go; and the user-space discovery scan (ContainerResolver::list(), what the daemon runs
// when a cgroup was made or removed) without and with the fleet.
//
// usage: bench_fleet OUT.json SIGDRAIN_BIN FLEET_BIN WORK_DIR CONTAINERS CONNECTIONS
//   WORK_DIR holds the fleet (its CRI-O state), the daemon's state, config and log; it is emptied first.
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <fstream>
#include <thread>

#include "common.hpp"
#include "containers/resolver.hpp"

namespace sigdrain::bench {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;
constexpr auto kCpuWindow = 5s;

std::string read_text(const fs::path& path) {
  std::ifstream in(path);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

size_t count_lines_with(const fs::path& path, const std::string& needle) {
  std::ifstream in(path);
  size_t n = 0;
  for (std::string line; std::getline(in, line);) n += line.find(needle) != std::string::npos;
  return n;
}

// Waits until `log` has a line holding `needle` `count` times; dies when `pid` exits first or after `limit`.
void wait_for(const fs::path& log, const std::string& needle, size_t count, pid_t pid, std::chrono::seconds limit) {
  auto deadline = Clock::now() + limit;
  while (count_lines_with(log, needle) < count) {
    if (waitpid(pid, nullptr, WNOHANG) != 0) die(log.string() + ": the process exited:\n" + read_text(log));
    if (Clock::now() > deadline) die(log.string() + ": timed out waiting for \"" + needle + "\":\n" + read_text(log));
    std::this_thread::sleep_for(50ms);
  }
}

// The daemon's discovery scan, in this process: the first call (reads every container's runtime state) and the
// median of the next ten (the steady state: the cgroup tree walk, descriptions cached).
nlohmann::json discovery_scan(const HostRoots& roots) {
  ContainerResolver resolver(roots);
  size_t found = 0;
  double first_ms = median_ms(1, [&] { found = resolver.list().size(); });
  double steady_ms = median_ms(10, [&] { (void)resolver.list(); });
  return {{"containers", found}, {"first_ms", first_ms}, {"steady_ms", steady_ms}};
}

std::string cgroup2_root() { return HostRoots{}.cgroup2; }

}  // namespace
}  // namespace sigdrain::bench

int main(int argc, char** argv) {
  using namespace sigdrain;
  using namespace sigdrain::bench;
  if (argc < 7) die("usage: bench_fleet OUT.json SIGDRAIN_BIN FLEET_BIN WORK_DIR CONTAINERS CONNECTIONS");
  const std::string sigdrain_bin = argv[2], fleet_bin = argv[3];
  const fs::path work = argv[4];
  const int containers = std::stoi(argv[5]), connections = std::stoi(argv[6]);
  fs::remove_all(work);
  fs::create_directories(work);
  raise_nofile_limit();  // the connection holder inherits it
  const fs::path fleet_dir = work / "fleet";

  HostRoots roots;
  roots.crio_state = (fleet_dir / "crio").string();
  roots.podman_binary = "/bin/false";  // podman containers on this host are not what is measured
  nlohmann::json out = {{"containers", containers}, {"connections", connections}};
  out["discovery_without_fleet"] = discovery_scan(roots);

  std::printf("starting a fleet of %d containers\n", containers);
  pid_t fleet = spawn_logged(
      {fleet_bin, "up", fleet_dir.string(), "--guarded", std::to_string(containers), "--cgroup-root", cgroup2_root()},
      (work / "fleet.log").string());
  wait_for(work / "fleet.log", "ready", 1, fleet, 120s);
  out["discovery_with_fleet"] = discovery_scan(roots);

  std::ofstream(work / "daemon.conf") << "state-dir = " << (work / "state").string() << "\nguard = labelled\n"
                                      << "crio-state = " << roots.crio_state << "\nlog-format = json\nbpf-pin-dir = none\n";
  auto started = Clock::now();
  pid_t daemon = spawn_logged({sigdrain_bin, "daemon", "--config", (work / "daemon.conf").string()},
                              (work / "daemon.log").string());
  wait_for(work / "daemon.log", "\"guarding ", static_cast<size_t>(containers), daemon, 120s);
  out["guard_all_ms"] = std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - started).count();
  std::printf("daemon guards %d containers after %lld ms; idle: measuring over %lld s\n", containers,
              static_cast<long long>(out["guard_all_ms"].get<int64_t>()), static_cast<long long>(kCpuWindow.count()));
  std::this_thread::sleep_for(1s);
  out["daemon_idle"] = footprint_over(daemon, kCpuWindow);

  pid_t holder = spawn_logged({fleet_bin, "connect", fleet_dir.string(), "--connections", std::to_string(connections)},
                              (work / "connect.log").string());
  wait_for(work / "connect.log", "ready", 1, holder, 120s);
  std::printf("%s", read_text((work / "connect.log").string()).c_str());
  std::printf("daemon with %d connections: measuring over %lld s\n", connections,
              static_cast<long long>(kCpuWindow.count()));
  out["daemon_loaded"] = footprint_over(daemon, kCpuWindow);

  // Stopping the daemon detaches from every init (each thread is interrupted and let go).
  auto stopping = Clock::now();
  kill(daemon, SIGINT);
  waitpid(daemon, nullptr, 0);
  out["detach_all_ms"] = std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - stopping).count();
  for (pid_t child : {holder, fleet}) {
    kill(child, SIGTERM);
    waitpid(child, nullptr, 0);
  }
  need(write_json(argv[1], out), "writing results");
  fs::remove_all(work);
  return 0;
}

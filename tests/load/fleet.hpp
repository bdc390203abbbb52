// A synthetic fleet of CRI-O-style containers for load tests and benchmarks (tests/load/README.md).
//
// What the daemon sees of each one is what it sees of a real CRI-O container: a cgroup v2 directory
// `<slice>/crio-<64 hex id>.scope` holding a process (its init, a fleet_server), and CRI-O's state for that id
// under `<dir>/crio/overlay-containers/<id>/userdata/` (config.json with the Kubernetes annotations, pidfile).
// The manifest and the exit records are tab-separated files under `<dir>` that the other subcommands read.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

namespace sigdrain::fleet {

struct Member {
  std::string id;        // 64 hex digits
  std::string name;      // the container's name (io.kubernetes.container.name)
  pid_t pid = 0;         // its init
  uint16_t port = 0;     // where its server listens on 127.0.0.1
  bool guarded = false;  // labelled sigdrain.io/guard=true (else =false)
  int stop_timeout_s = 0;
  std::string cgroup;  // absolute path of its cgroup directory
};

struct Exit {
  std::string id;
  int code = -1;   // exit code, -1 when killed by a signal
  int signal = 0;  // the killing signal, 0 when it exited
};

std::filesystem::path manifest_path(const std::filesystem::path& dir);
std::filesystem::path exits_path(const std::filesystem::path& dir);
std::vector<Member> read_manifest(const std::filesystem::path& dir);
std::vector<Exit> read_exits(const std::filesystem::path& dir);

// Prints "fleet: <message>" to stderr and exits 2.
[[noreturn]] void die(const std::string& message);
// Raises RLIMIT_NOFILE's soft limit to the hard limit; returns the new soft limit.
uint64_t raise_nofile_limit();

// The subcommands (fleet_main.cpp parses their options).
struct UpOptions {
  std::filesystem::path dir;
  int guarded = 0;
  int unguarded = 0;
  int stop_timeout_s = 10;
  std::string cgroup_root;
};
int run_up(const UpOptions& options);

int run_connect(const std::filesystem::path& dir, int connections);

struct StopOptions {
  std::filesystem::path dir;
  int guarded_targets = 20;
  int unguarded_targets = 0;
  int clients = 2;       // per target, each one request at a time, one connection per request
  int warmup_ms = 1500;  // load before the first stop
  int stagger_ms = 100;  // between two targets' stops
  int lag_ms = 1000;     // clients keep starting requests this long after the stop began (a lagging load balancer)
  int min_request_ms = 50, max_request_ms = 200;
};
int run_stop(const StopOptions& options);

// The stops exec this binary as `runc kill <id> 15` (main() dispatches on the name), with the target's pid in this
// variable: a runtime's kill that the daemon's stop gate catches, as it catches podman's and containerd's.
inline constexpr const char* kFakeRuntimeTargetEnv = "SIGDRAIN_FLEET_KILL_PID";
int run_fake_runtime_kill(int argc, char** argv);

}  // namespace sigdrain::fleet

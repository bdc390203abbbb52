// sigdrain_fleet: a synthetic fleet of CRI-O-style containers for load tests and benchmarks (tests/load/README.md).
#include <CLI/CLI.hpp>

#include <string_view>

#include "fleet.hpp"

int main(int argc, char** argv) {
  using namespace sigdrain::fleet;
  if (std::string_view(argv[0]) == "runc") return run_fake_runtime_kill(argc, argv);
  CLI::App app{"A synthetic fleet of CRI-O-style containers (cgroup + CRI-O state + an HTTP server as init)"};
  app.require_subcommand(1);

  UpOptions up;
  auto* up_cmd = app.add_subcommand("up", "Create the fleet and supervise it until SIGTERM/SIGINT, then remove it");
  up_cmd
      ->add_option("dir", up.dir,
                   "Directory for the manifest, the exit records and the CRI-O state (crio-state = DIR/crio)")
      ->required();
  up_cmd->add_option("--guarded", up.guarded, "Containers labelled sigdrain.io/guard=true")->check(CLI::Range(0, 5000));
  up_cmd->add_option("--unguarded", up.unguarded, "Containers labelled sigdrain.io/guard=false")
      ->check(CLI::Range(0, 5000));
  up_cmd->add_option("--stop-timeout", up.stop_timeout_s, "Stop timeout (the pod's grace period), seconds")
      ->check(CLI::Range(2, 3600));
  up_cmd->add_option("--cgroup-root", up.cgroup_root, "The cgroup v2 mount")->required();

  std::filesystem::path connect_dir;
  int connections = 0;
  auto* connect_cmd =
      app.add_subcommand("connect", "Open keep-alive connections spread over the fleet and hold them until SIGTERM");
  connect_cmd->add_option("dir", connect_dir, "The fleet's directory")->required();
  connect_cmd->add_option("--connections", connections, "How many")->required()->check(CLI::Range(1, 1000000));

  StopOptions stop;
  auto* stop_cmd = app.add_subcommand(
      "stop",
      "Stop containers under load as a runtime does (SIGTERM, SIGKILL after the timeout); one JSON line per container");
  stop_cmd->add_option("dir", stop.dir, "The fleet's directory")->required();
  stop_cmd->add_option("--guarded", stop.guarded_targets, "Guarded containers to stop")->check(CLI::Range(0, 5000));
  stop_cmd->add_option("--unguarded", stop.unguarded_targets, "Unguarded containers to stop")
      ->check(CLI::Range(0, 5000));
  stop_cmd->add_option("--clients", stop.clients, "Concurrent clients per container")->check(CLI::Range(1, 64));
  stop_cmd->add_option("--warmup-ms", stop.warmup_ms, "Load before the first stop")->check(CLI::Range(0, 600000));
  stop_cmd->add_option("--stagger-ms", stop.stagger_ms, "Between two stops")->check(CLI::Range(0, 600000));
  stop_cmd->add_option("--lag-ms", stop.lag_ms, "Clients keep starting requests this long after a stop began")
      ->check(CLI::Range(0, 600000));

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    int status = app.exit(e);  // prints help, or the error in one line
    return status == 0 ? 0 : 2;
  }
  try {
    if (up_cmd->parsed()) return run_up(up);
    if (connect_cmd->parsed()) return run_connect(connect_dir, connections);
    return run_stop(stop);
  } catch (const std::exception& e) {
    die(e.what());
  }
}

#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstdio>

#include "cli/commands.hpp"
#include "daemon/config.hpp"
#include "daemon/daemon.hpp"
#include "util/files.hpp"

namespace sigdrain {
namespace {

std::atomic<bool> g_stop{false};
void request_stop(int) { g_stop.store(true); }

}  // namespace

DaemonOptions daemon_options_from(const std::string& config_path, const DaemonOptions& flags,
                                  const std::vector<std::string>& given) {
  if (config_path.empty()) return flags;
  auto text = value_or_throw(read_file(config_path));
  auto settings = parse_config(text);
  if (!settings) throw UserError(fmt::format("{}: {}", config_path, settings.error().message));
  auto options = compile_config(*settings, DaemonOptions{});
  if (!options) throw UserError(fmt::format("{}: {}", config_path, options.error().message));
  DaemonOptions o = *options;
  auto set = [&](const char* flag) { return std::find(given.begin(), given.end(), flag) != given.end(); };
  if (set("--state-dir")) o.state_dir = flags.state_dir;
  if (set("--labelled-only")) o.guard_labelled_only = flags.guard_labelled_only;
  if (set("--max-hold-ms")) o.max_hold_ms = flags.max_hold_ms;
  if (set("--quiet-ms")) o.quiet_ms = flags.quiet_ms;
  if (set("--default-timeout")) o.default_timeout_s = flags.default_timeout_s;
  if (set("--log-format")) o.log_format = flags.log_format;
  if (set("--metrics-address")) o.metrics_address = flags.metrics_address;
  if (set("--hold-backend")) o.hold_backend = flags.hold_backend;
  if (set("--bpf-pin-dir")) o.bpf_pin_dir = flags.bpf_pin_dir;
  o.verbose = flags.verbose;
  return o;
}

std::string format_daemon_settings(const DaemonOptions& options) { return format_config(options); }

int run_unpin(const DaemonOptions& options) {
  if (::geteuid() != 0) throw UserError("--unpin needs root: the pins are on bpffs");
  if (options.bpf_pin_dir.empty()) throw UserError("--unpin: bpf-pin-dir is none, nothing is pinned");
  if (auto removed = remove_pin_tree(options.bpf_pin_dir); !removed) throw UserError(removed.error().message);
  std::printf("removed %s: the socket programs detach once no daemon holds them\n", options.bpf_pin_dir.c_str());
  return 0;
}

int run_daemon(const DaemonOptions& options) {
  set_libbpf_verbose(options.verbose);
  if (::geteuid() != 0) throw UserError("the daemon needs root: it loads BPF programs and ptraces containers' init processes");
  auto daemon = value_or_throw(Daemon::make(options));
  struct sigaction sa {};
  sa.sa_handler = request_stop;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGINT, &sa, nullptr);
  sigaction(SIGTERM, &sa, nullptr);
  return daemon->run(g_stop);
}

}  // namespace sigdrain

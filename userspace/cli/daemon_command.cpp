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

// SIGTERM or SIGINT: the first makes the daemon finish its drains and exit, a second makes it exit at once.
std::atomic<int> g_stop_requests{0};
static_assert(std::atomic<int>::is_always_lock_free, "changed from a signal handler");
void request_stop(int) { g_stop_requests.fetch_add(1); }

// The flags that win over the config file: the one list, which main.cpp asks CLI11 about too.
struct FileOverride {
  const char* flag;
  void (*apply)(DaemonOptions& o, const DaemonOptions& flags);
};
constexpr FileOverride kFileOverrides[] = {
    {"--state-dir", [](DaemonOptions& o, const DaemonOptions& f) { o.state_dir = f.state_dir; }},
    {"--labelled-only", [](DaemonOptions& o, const DaemonOptions& f) { o.guard_labelled_only = f.guard_labelled_only; }},
    {"--max-hold-ms", [](DaemonOptions& o, const DaemonOptions& f) { o.max_hold_ms = f.max_hold_ms; }},
    {"--quiet-ms", [](DaemonOptions& o, const DaemonOptions& f) { o.quiet_ms = f.quiet_ms; }},
    {"--default-timeout", [](DaemonOptions& o, const DaemonOptions& f) { o.default_timeout_s = f.default_timeout_s; }},
    {"--log-format", [](DaemonOptions& o, const DaemonOptions& f) { o.log_format = f.log_format; }},
    {"--metrics-address", [](DaemonOptions& o, const DaemonOptions& f) { o.metrics_address = f.metrics_address; }},
    {"--hold-backend", [](DaemonOptions& o, const DaemonOptions& f) { o.hold_backend = f.hold_backend; }},
    {"--bpf-pin-dir", [](DaemonOptions& o, const DaemonOptions& f) { o.bpf_pin_dir = f.bpf_pin_dir; }},
};

}  // namespace

std::vector<std::string> daemon_file_override_flags() {
  std::vector<std::string> flags;
  for (const auto& o : kFileOverrides) flags.emplace_back(o.flag);
  return flags;
}

DaemonOptions daemon_options_from(const std::string& config_path, const DaemonOptions& flags,
                                  const std::vector<std::string>& given) {
  if (config_path.empty()) return flags;
  auto text = value_or_throw(read_file(config_path));
  auto settings = parse_config(text);
  if (!settings) throw UserError(fmt::format("{}: {}", config_path, settings.error().message));
  auto options = compile_config(*settings, DaemonOptions{});
  if (!options) throw UserError(fmt::format("{}: {}", config_path, options.error().message));
  DaemonOptions o = *options;
  for (const auto& entry : kFileOverrides)
    if (std::find(given.begin(), given.end(), entry.flag) != given.end()) entry.apply(o, flags);
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
  return daemon->run(g_stop_requests);
}

}  // namespace sigdrain

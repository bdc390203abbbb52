// Subcommands of the sigdrain binary. Each run_* returns the process exit code; user errors are thrown as
// UserError and turned into one line on stderr by main().
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "containers/host_roots.hpp"
#include "hold/hold_backend.hpp"

namespace sigdrain {

// Exit codes shared by every subcommand.
inline constexpr int kExitOk = 0;
inline constexpr int kExitKilled = 1;  // safe-stop: the container had to be SIGKILLed
inline constexpr int kExitError = 2;   // bad input, missing privilege, unknown container, kernel without a probe

// Limits the command line enforces (main.cpp): seconds beyond them would overflow a deadline.
inline constexpr double kMaxTraceDurationS = 366 * 86400;
inline constexpr double kMaxSafeStopTimeoutS = 86400;

struct TraceOptions {
  std::vector<std::string> containers;  // names or ids
  std::vector<int> pids;
  std::vector<std::string> signals;  // names or numbers
  std::optional<double> duration_s;  // checked by the CLI: finite, > 0, <= kMaxTraceDurationS
  bool json = false;
  bool deliveries = false;  // also show signal_deliver rows in human output (JSON always has them)
  bool verbose = false;
};
int run_trace(const TraceOptions& options);

}  // namespace sigdrain

namespace sigdrain {

struct SafeStopOptions {
  std::string container;
  std::optional<double> timeout_s;  // default: the runtime's stop timeout, else 10 s; CLI-checked up to kMaxSafeStopTimeoutS
  std::optional<int> quiet_ms;      // default: label sigdrain.io/quiet-ms, else kDefaultQuiet; CLI-checked >= 0
  std::optional<std::string> signal;
  std::optional<std::string> plan;
  bool dry_run = false;
  bool json = false;
  bool verbose = false;
  std::string daemon_state_dir = "/run/sigdrain";  // where a running daemon's control socket is
};
int run_safe_stop(const SafeStopOptions& options);

}  // namespace sigdrain

namespace sigdrain {

// How the daemon writes its stop records and log lines. The flag --log-format and the config key log-format
// take the same names: text | json.
enum class LogFormat { text, json };
std::optional<LogFormat> parse_log_format(std::string_view name);
std::string_view log_format_name(LogFormat format);

struct DaemonOptions {
  std::string state_dir = "/run/sigdrain";
  bool guard_labelled_only = false;          // guard only containers labelled sigdrain.io/guard=true
  std::optional<int> max_hold_ms;            // the longest a stop signal is held
  std::optional<int> quiet_ms;               // default kDefaultQuiet, or the container's label
  int default_timeout_s = 10;                // when the runtime does not say its stop timeout
  LogFormat log_format = LogFormat::text;
  std::string metrics_address;               // HOST:PORT of /metrics, /healthz, /readyz; empty: no HTTP server
  HoldBackendSetting hold_backend = HoldBackendSetting::automatic;  // ptrace, BPF LSM where ptrace cannot
  bool verbose = false;
  HostRoots roots;  // where the runtimes keep their state: the host's paths unless the config file moves them
};
int run_daemon(const DaemonOptions& options);
// `flags` holds the command line's values; `given` names the flags the command line set, which win over the file.
std::string format_daemon_settings(const DaemonOptions& options);
DaemonOptions daemon_options_from(const std::string& config_path, const DaemonOptions& flags, const std::vector<std::string>& given);

}  // namespace sigdrain

namespace sigdrain {

struct PsOptions {
  std::string state_dir = "/run/sigdrain";
  bool json = false;
};
int run_ps(const PsOptions& options);

}  // namespace sigdrain

namespace sigdrain {

// `sigdrain version [--features]`: the version, and what this kernel offers and which probes would be used.
int run_version(bool features, bool json);

}  // namespace sigdrain

namespace sigdrain {

struct CheckOptions {
  std::string container;
  bool json = false;
  std::string daemon_state_dir = "/run/sigdrain";
};
// `sigdrain check`: what a plain runtime stop would do to the container, why, and what to change. Changes nothing.
int run_check(const CheckOptions& options);

}  // namespace sigdrain

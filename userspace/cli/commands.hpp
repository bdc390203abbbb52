// Subcommands of the sigdrain binary. Each run_* returns the process exit code; user errors are thrown as
// UserError and turned into one line on stderr by main().
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "daemon/options.hpp"
#include "util/exit_codes.hpp"

namespace sigdrain {

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

int run_daemon(const DaemonOptions& options);
// `sigdrain daemon --unpin`: removes the pinned socket maps and links (an uninstall); 0 when done.
int run_unpin(const DaemonOptions& options);
std::string format_daemon_settings(const DaemonOptions& options);
// The flags of `sigdrain daemon` that win over its config file when the command line sets them.
std::vector<std::string> daemon_file_override_flags();
// `flags` holds the command line's values; `given` names the flags the command line set, which win over the file.
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

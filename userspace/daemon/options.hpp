// The daemon's settings, filled by the command line (cli/) and the config file (daemon/config.hpp).
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "containers/host_roots.hpp"
#include "hold/hold_backend.hpp"
#include "observer/bpf_pins.hpp"
#include "policy/drain.hpp"
#include "util/result.hpp"

namespace sigdrain {

// How the daemon writes its stop records and log lines. The flag --log-format and the config key log-format
// take the same names: text | json.
enum class LogFormat { text, json };
std::optional<LogFormat> parse_log_format(std::string_view name);
std::string_view log_format_name(LogFormat format);
// The value of bpf-pin-dir / --bpf-pin-dir: an absolute path, or "none" (returned as "").
Result<std::string> parse_bpf_pin_dir(std::string_view value);

struct DaemonOptions {
  std::string state_dir = "/run/sigdrain";
  bool guard_labelled_only = false;          // guard only containers labelled sigdrain.io/guard=true
  std::optional<int> max_hold_ms;            // the longest a stop signal is held
  std::optional<int> quiet_ms;               // default kDefaultQuiet, or the container's label
  int min_drain_ms = 0;                      // the shortest hold unless the container's label says otherwise
  int default_timeout_s = static_cast<int>(kDefaultStopTimeout.count());  // when the runtime does not say its stop timeout
  LogFormat log_format = LogFormat::text;
  std::string metrics_address;               // HOST:PORT of /metrics, /healthz, /readyz; empty: no HTTP server
  HoldBackendSetting hold_backend = HoldBackendSetting::automatic;  // ptrace, BPF LSM where ptrace cannot
  // The bpffs directory of the pinned socket maps and links, which outlive the daemon (docs/daemon.md,
  // "Restarts"); empty (`none` in the config and flag): not pinned, a restart forgets the requests in flight.
  std::string bpf_pin_dir = kDefaultBpfPinRoot;
  bool verbose = false;
  HostRoots roots;  // where the runtimes keep their state: the host's paths unless the config file moves them
};

}  // namespace sigdrain

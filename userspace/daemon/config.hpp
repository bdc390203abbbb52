// The daemon's config file, in three steps: text -> settings (parse_config) -> DaemonOptions (compile_config),
// so `sigdrain daemon --check-config` reports every problem before anything starts. Pure.
//
// Format: one `key = value` per line; `#` starts a comment; blank lines are ignored. Keys:
//   state-dir        directory for the journal, lock and control socket (absolute path)
//   guard            all | labelled      (labelled: only containers labelled sigdrain.io/guard=true)
//   max-hold-ms      the longest a stop signal is held, 1..3600000
//   quiet-ms         idle after this long without a request in flight, 0..600000
//   default-timeout  stop timeout in seconds when the runtime does not say, 2..3600
//   log-format       text | json
//   metrics-address  HOST:PORT for /metrics, /healthz and /readyz (unset: no HTTP server)
//   docker-state, containerd-state, crio-state   where each runtime keeps its state (absolute paths; default the
//                    host's own, for a daemon in a container that mounts them elsewhere)
//   podman           the podman binary (name in PATH or absolute path)
//   hold-backend     auto | ptrace | lsm   (auto: ptrace, BPF LSM for processes ptrace cannot guard)
#pragma once

#include <map>
#include <string>
#include <string_view>

#include "daemon/options.hpp"
#include "util/result.hpp"

namespace sigdrain {

struct ConfigSetting {
  std::string value;
  int line = 0;
};

Result<std::map<std::string, ConfigSetting>> parse_config(std::string_view text);
// Applies the settings on top of `defaults`; errors name the line.
Result<DaemonOptions> compile_config(const std::map<std::string, ConfigSetting>& settings, DaemonOptions defaults);
// The effective settings, in the file's own format.
std::string format_config(const DaemonOptions& options);

}  // namespace sigdrain

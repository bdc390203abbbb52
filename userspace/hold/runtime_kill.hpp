// Which OCI runtime invocation counts as "the runtime sends a container its stop signal". Pure; the one place of
// that decision: bpf/stop_gate.bpf.c applies the same grammar in the kernel and the daemon re-checks its choice
// here before it acts on it.
//
//   <runtime> [global options] kill [--all|-a] <id> [signal]
//
// <runtime> is runc or crun (by basename); global options are runc's and crun's, those that take a separate value
// listed in bpf/stop_gate.h (kRuntimeValueOptions); the signal is a number, TERM or SIGTERM (default SIGTERM). Anything else (another
// subcommand such as `delete --force`, an unknown option after kill, trailing words) is not a runtime kill.
#pragma once

#include <array>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include <linux/types.h>

#include "stop_gate.h"

namespace sigdrain {

inline constexpr std::array<std::string_view, 2> kRuntimeBinaries{"runc", "crun"};
// The global options that take a separate value: bpf/stop_gate.h's list, which the BPF program expands too.
#define SIGDRAIN_RUNTIME_OPTION(name) std::string_view(name),
inline constexpr std::array kRuntimeValueOptions{SIGDRAIN_GATE_VALUE_OPTIONS(SIGDRAIN_RUNTIME_OPTION)};
#undef SIGDRAIN_RUNTIME_OPTION

struct RuntimeKill {
  std::string runtime;       // the basename of argv[0]
  std::string container_id;
  int signo = 0;             // SIGTERM when the argv names none
  bool all = false;          // --all / -a: every process of the container
  bool operator==(const RuntimeKill&) const = default;
};

// The basename of a path ("/usr/sbin/runc" -> "runc").
std::string_view path_basename(std::string_view path);
bool is_runtime_binary(std::string_view path);
// `15`, `TERM`, `SIGTERM`, for the signals a runtime may be asked to send; nullopt for anything else.
std::optional<int> parse_runtime_signal(std::string_view text);
// nullopt when `argv` is not a runtime kill.
std::optional<RuntimeKill> parse_runtime_kill(std::span<const std::string> argv);
// Whether the gate holds a kill: it names a signal in the held set, and never SIGKILL.
bool gate_holds(const RuntimeKill& kill, std::span<const int> held_signals);

}  // namespace sigdrain

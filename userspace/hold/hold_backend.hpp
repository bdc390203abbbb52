// Which backend holds a container's stop signals. Pure: the daemon gathers the facts.
//
// ptrace is the default: the sender's kill() succeeds and the runtime waits its full timeout. BPF LSM refuses
// the signal instead (the sender sees EPERM, and Docker escalates to SIGKILL after ~2 s), so `auto` uses it only
// where ptrace cannot work: the process is already traced by someone else, or Yama's ptrace_scope is 3.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "util/result.hpp"

namespace sigdrain {

// ptrace_at_stop: nothing is traced until the stop gate (hold/stop_gate.hpp) catches the runtime's kill.
enum class HoldBackend { none, ptrace, lsm, ptrace_at_stop };
enum class HoldBackendSetting { automatic, ptrace, lsm };  // config `hold-backend = auto | ptrace | lsm`

std::string_view hold_backend_name(HoldBackend backend);  // "none", "ptrace", "lsm", "ptrace at stop"
std::string_view hold_backend_setting_name(HoldBackendSetting setting);  // "auto", "ptrace", "lsm"
Result<HoldBackendSetting> parse_hold_backend_setting(std::string_view text);

// Bit n-1 set for each signal n: the held set of both backends. Fails for SIGKILL and SIGSTOP (no process can
// refuse them and they never reach a tracer) and for numbers outside 1..64.
Result<std::uint64_t> hold_signal_mask(const std::vector<int>& signals);

struct HoldBackendFacts {
  int yama_ptrace_scope = -1;  // /proc/sys/kernel/yama/ptrace_scope; -1 without Yama
  std::string ptrace_error;    // why attaching failed (e.g. "... traced by PID 34"); empty when it worked
  std::string lsm_unavailable; // why the BPF LSM backend is not loaded; empty when it is
};

struct HoldBackendChoice {
  HoldBackend backend = HoldBackend::none;
  std::string why;  // why this one (for lsm), or why nothing holds (for none); empty for plain ptrace
};

// Whether to attach with ptrace at all (its outcome is then HoldBackendFacts::ptrace_error).
bool ptrace_worth_trying(HoldBackendSetting setting, int yama_ptrace_scope);
HoldBackendChoice choose_hold_backend(HoldBackendSetting setting, const HoldBackendFacts& facts);

}  // namespace sigdrain

#include "hold/hold_backend.hpp"

#include <csignal>

#include <fmt/format.h>

#include "signals/signal_names.hpp"

namespace sigdrain {

std::string_view hold_backend_name(HoldBackend backend) {
  switch (backend) {
    case HoldBackend::ptrace: return "ptrace";
    case HoldBackend::lsm: return "lsm";
    case HoldBackend::ptrace_at_stop: return "ptrace at stop";
    case HoldBackend::none: break;
  }
  return "none";
}

std::string_view hold_backend_setting_name(HoldBackendSetting setting) {
  switch (setting) {
    case HoldBackendSetting::ptrace: return "ptrace";
    case HoldBackendSetting::lsm: return "lsm";
    case HoldBackendSetting::automatic: break;
  }
  return "auto";
}

Result<HoldBackendSetting> parse_hold_backend_setting(std::string_view text) {
  for (auto setting : {HoldBackendSetting::automatic, HoldBackendSetting::ptrace, HoldBackendSetting::lsm})
    if (text == hold_backend_setting_name(setting)) return setting;
  return Error::msg(fmt::format("hold backend \"{}\": want auto, ptrace or lsm", text));
}

Result<std::uint64_t> hold_signal_mask(const std::vector<int>& signals) {
  std::uint64_t mask = 0;
  for (int signo : signals) {
    if (signo < 1 || signo > 64) return Error::msg(fmt::format("cannot hold signal {}: no such signal", signo));
    if (signo == SIGKILL || signo == SIGSTOP)
      return Error::msg(fmt::format("cannot hold {}: no process can refuse it and it never reaches a tracer", signal_name(signo)));
    mask |= signal_bit(signo);
  }
  return mask;
}

namespace {
constexpr int kYamaNoAttach = 3;  // YAMA_SCOPE_NO_ATTACH: not even root may ptrace, until reboot
}

bool ptrace_worth_trying(HoldBackendSetting setting, int yama_ptrace_scope) {
  return setting != HoldBackendSetting::lsm && yama_ptrace_scope != kYamaNoAttach;
}

HoldBackendChoice choose_hold_backend(HoldBackendSetting setting, const HoldBackendFacts& facts) {
  const std::string ptrace_obstacle =
      facts.yama_ptrace_scope == kYamaNoAttach ? "Yama ptrace_scope is 3: no process may ptrace" : facts.ptrace_error;
  const bool lsm_ok = facts.lsm_unavailable.empty();
  switch (setting) {
    case HoldBackendSetting::ptrace:
      if (ptrace_obstacle.empty()) return {HoldBackend::ptrace, ""};
      return {HoldBackend::none, ptrace_obstacle};
    case HoldBackendSetting::lsm:
      if (lsm_ok) return {HoldBackend::lsm, "hold-backend = lsm"};
      return {HoldBackend::none, facts.lsm_unavailable};
    case HoldBackendSetting::automatic:
      if (ptrace_obstacle.empty()) return {HoldBackend::ptrace, ""};
      if (lsm_ok) return {HoldBackend::lsm, ptrace_obstacle};
      return {HoldBackend::none, fmt::format("{}; no BPF LSM fallback: {}", ptrace_obstacle, facts.lsm_unavailable)};
  }
  return {};
}

}  // namespace sigdrain

// Plain-words explanations of what happened to a signal. Pure functions of the facts.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "proc/proc.hpp"

namespace sigdrain {

struct SignalFacts {
  int signo = 0;
  uint32_t result = 0;  // enum sigdrain_signal_result
  std::optional<Disposition> disposition;
  bool target_is_namespace_init = false;  // PID 1 of a pid namespace (a container's init)
  bool target_in_container = false;
  std::optional<int64_t> escalation_after_ms;  // SIGKILL after a stop signal
  std::optional<std::string> server_note;      // server_signal_note() of the target
};

std::string signal_verdict(const SignalFacts& facts);

// handler_class: enum sigdrain_handler_class
std::string deliver_verdict(int signo, uint32_t handler_class);

struct ExitFacts {
  uint32_t cause = 0;  // enum sigdrain_exit_cause
  uint32_t value = 0;
  std::optional<int64_t> after_signal_ms;
  int after_signal = 0;  // the signal after_signal_ms counts from (SignalStory::signal_before_exit); 0: none
};

std::string exit_verdict(const ExitFacts& facts);

}  // namespace sigdrain

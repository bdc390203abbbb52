// Signal numbers <-> names ("SIGTERM"), for flags, labels and output.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "signal_mask.h"

namespace sigdrain {

// "SIGTERM" for 15, "SIGRTMIN+3" for real-time signals, "SIG99" for numbers out of range.
std::string signal_name(int signo);

// Accepts "SIGTERM", "TERM", "term", "15", "SIGRTMIN+2". nullopt when it names no signal (1..64).
std::optional<int> parse_signal(std::string_view text);

// A stop signal an operator or runtime uses to end a process: SIGTERM, SIGINT, SIGQUIT, SIGHUP.
bool is_stop_signal(int signo);

// Signal n's bit in a 64-bit signal mask (bpf/signal_mask.h: the BPF programs read masks the same way).
constexpr uint64_t signal_bit(int signo) { return SIGDRAIN_SIGNAL_BIT(signo); }

}  // namespace sigdrain

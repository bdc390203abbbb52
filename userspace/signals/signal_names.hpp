// Signal numbers <-> names ("SIGTERM"), for flags, labels and output.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace sigdrain {

// "SIGTERM" for 15, "SIGRTMIN+3" for real-time signals, "SIG99" for numbers out of range.
std::string signal_name(int signo);

// Accepts "SIGTERM", "TERM", "term", "15", "SIGRTMIN+2". nullopt when it names no signal (1..64).
std::optional<int> parse_signal(std::string_view text);

// A stop signal an operator or runtime uses to end a process: SIGTERM, SIGINT, SIGQUIT, SIGHUP.
bool is_stop_signal(int signo);

// Signal n's bit in a 64-bit signal mask: bit n-1, as in the kernel's sigset_t and /proc's SigCgt. 0 for a
// number outside 1..64.
constexpr uint64_t signal_bit(int signo) { return signo >= 1 && signo <= 64 ? 1ULL << (signo - 1) : 0; }

}  // namespace sigdrain

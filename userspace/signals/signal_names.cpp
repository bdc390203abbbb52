#include "signals/signal_names.hpp"

#include <algorithm>
#include <array>
#include <cctype>
#include <csignal>

#include <fmt/format.h>

#include "util/parse_number.hpp"

namespace sigdrain {
namespace {

// Linux x86_64/arm64 numbering (asm-generic), 1..31.
constexpr std::array<std::string_view, 32> kNames = {
    "",        "SIGHUP",  "SIGINT",    "SIGQUIT", "SIGILL",    "SIGTRAP", "SIGABRT",  "SIGBUS",
    "SIGFPE",  "SIGKILL", "SIGUSR1",   "SIGSEGV", "SIGUSR2",   "SIGPIPE", "SIGALRM",  "SIGTERM",
    "SIGSTKFLT", "SIGCHLD", "SIGCONT", "SIGSTOP", "SIGTSTP",   "SIGTTIN", "SIGTTOU",  "SIGURG",
    "SIGXCPU", "SIGXFSZ", "SIGVTALRM", "SIGPROF", "SIGWINCH",  "SIGIO",   "SIGPWR",   "SIGSYS",
};
constexpr int kRtMin = 34;  // the kernel's SIGRTMIN (glibc reserves 32 and 33 for itself)
constexpr int kMaxSignal = 64;

}  // namespace

std::string signal_name(int signo) {
  if (signo > 0 && signo < static_cast<int>(kNames.size())) return std::string(kNames[signo]);
  if (signo >= kRtMin && signo <= kMaxSignal)
    return signo == kRtMin ? "SIGRTMIN" : fmt::format("SIGRTMIN+{}", signo - kRtMin);
  return fmt::format("SIG{}", signo);
}

std::optional<int> parse_signal(std::string_view text) {
  if (text.empty()) return std::nullopt;
  if (std::isdigit(static_cast<unsigned char>(text[0]))) {
    auto n = parse_integer<int>(text);
    if (n && *n >= 1 && *n <= kMaxSignal) return n;
    return std::nullopt;
  }
  std::string upper(text);
  std::transform(upper.begin(), upper.end(), upper.begin(), [](unsigned char c) { return std::toupper(c); });
  if (upper.rfind("SIG", 0) != 0) upper = "SIG" + upper;
  for (int i = 1; i < static_cast<int>(kNames.size()); ++i)
    if (kNames[i] == upper) return i;
  if (upper == "SIGIOT") return SIGABRT;
  // "SIG32", as signal_name() spells the numbers that have no name (32 and 33, reserved by glibc).
  if (upper.size() > 3 && std::isdigit(static_cast<unsigned char>(upper[3]))) {
    auto n = parse_integer<int>(std::string_view(upper).substr(3));
    if (n && *n >= 1 && *n <= kMaxSignal) return n;
    return std::nullopt;
  }
  if (upper == "SIGPOLL") return SIGIO;
  if (upper.rfind("SIGRTMIN", 0) == 0) {
    std::string_view rest = std::string_view(upper).substr(8);
    if (rest.empty()) return kRtMin;
    if (rest[0] != '+') return std::nullopt;
    auto n = parse_integer<int>(rest.substr(1));
    if (n && *n >= 0 && kRtMin + *n <= kMaxSignal) return kRtMin + *n;
  }
  return std::nullopt;
}

bool is_stop_signal(int signo) {
  return signo == SIGTERM || signo == SIGINT || signo == SIGQUIT || signo == SIGHUP;
}

}  // namespace sigdrain

#include "hold/runtime_kill.hpp"

#include <signal.h>

#include <algorithm>

#include "util/parse_number.hpp"

namespace sigdrain {

std::string_view path_basename(std::string_view path) {
  auto slash = path.rfind('/');
  return slash == std::string_view::npos ? path : path.substr(slash + 1);
}

bool is_runtime_binary(std::string_view path) {
  return std::ranges::find(kRuntimeBinaries, path_basename(path)) != kRuntimeBinaries.end();
}

std::optional<int> parse_runtime_signal(std::string_view text) {
  if (!text.empty() && text.size() <= 2 && std::ranges::all_of(text, [](char c) { return c >= '0' && c <= '9'; }))
    return parse_integer<int>(text);
  if (text.starts_with("SIG")) text.remove_prefix(3);
  static constexpr std::pair<std::string_view, int> kNames[] = {
      {"TERM", SIGTERM}, {"INT", SIGINT}, {"QUIT", SIGQUIT}, {"HUP", SIGHUP}, {"KILL", SIGKILL}};
  for (const auto& [name, signo] : kNames)
    if (text == name) return signo;
  return std::nullopt;
}

std::optional<RuntimeKill> parse_runtime_kill(std::span<const std::string> argv) {
  if (argv.empty() || !is_runtime_binary(argv[0])) return std::nullopt;
  RuntimeKill kill{std::string(path_basename(argv[0])), "", SIGTERM, false};
  size_t i = 1;
  for (; i < argv.size() && argv[i].starts_with('-'); ++i)  // global options
    if (std::ranges::find(kRuntimeValueOptions, argv[i]) != kRuntimeValueOptions.end()) ++i;
  if (i >= argv.size() || argv[i] != "kill") return std::nullopt;
  for (++i; i < argv.size() && argv[i].starts_with('-'); ++i) {
    if (argv[i] != "--all" && argv[i] != "-a") return std::nullopt;
    kill.all = true;
  }
  if (i >= argv.size() || argv[i].empty()) return std::nullopt;
  kill.container_id = argv[i++];
  if (i < argv.size()) {
    auto signo = parse_runtime_signal(argv[i++]);
    if (!signo) return std::nullopt;
    kill.signo = *signo;
  }
  if (i != argv.size()) return std::nullopt;
  return kill;
}

bool gate_holds(const RuntimeKill& kill, std::span<const int> held_signals) {
  return kill.signo != SIGKILL && std::ranges::find(held_signals, kill.signo) != held_signals.end();
}

}  // namespace sigdrain

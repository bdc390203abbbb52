// The kernel's CPU list format (/sys/devices/system/cpu/online: "0-3,8,10-11\n"), for the CPUs trace gives a ring
// buffer of their own.
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>
#include <vector>

#include "util/parse_number.hpp"
#include "util/text.hpp"

namespace sigdrain {

// The CPUs listed, ascending as written; nullopt for anything else than comma-separated numbers and ranges.
inline std::optional<std::vector<uint32_t>> parse_cpu_list(std::string_view text) {
  text = trim(text);
  if (text.empty()) return std::nullopt;
  std::vector<uint32_t> cpus;
  while (!text.empty()) {
    const size_t comma = text.find(',');
    const std::string_view item = text.substr(0, comma);
    text = comma == std::string_view::npos ? std::string_view{} : text.substr(comma + 1);
    if (comma != std::string_view::npos && text.empty()) return std::nullopt;  // a trailing comma
    const size_t dash = item.find('-');
    const auto first = parse_integer<uint32_t>(item.substr(0, dash));
    const auto last = dash == std::string_view::npos ? first : parse_integer<uint32_t>(item.substr(dash + 1));
    // No CPU numbers beyond the kernel's own limit (NR_CPUS is at most 8192).
    if (!first || !last || *last < *first || *last >= 8192) return std::nullopt;
    if (!cpus.empty() && *first <= cpus.back()) return std::nullopt;
    for (uint32_t cpu = *first; cpu <= *last; ++cpu) cpus.push_back(cpu);
  }
  return cpus;
}

}  // namespace sigdrain

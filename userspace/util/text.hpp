// Small text helpers shared by the parsers (config file, /proc, plans, sysfs reads).
#pragma once

#include <string_view>

namespace sigdrain {

// `s` without leading and trailing ASCII whitespace (space, \t, \n, \v, \f, \r).
constexpr std::string_view trim(std::string_view s) {
  constexpr std::string_view kSpace = " \t\n\v\f\r";
  size_t first = s.find_first_not_of(kSpace);
  if (first == std::string_view::npos) return {};
  return s.substr(first, s.find_last_not_of(kSpace) - first + 1);
}

}  // namespace sigdrain

// Small text helpers: trimming for the parsers (config file, /proc, plans, sysfs reads), and escaping bytes from
// outside (comm, cmdline, labels, paths) for columns.
#pragma once

#include <string>
#include <string_view>

namespace sigdrain {

// `s` without leading and trailing ASCII whitespace (space, \t, \n, \v, \f, \r).
constexpr std::string_view trim(std::string_view s) {
  constexpr std::string_view kSpace = " \t\n\v\f\r";
  size_t first = s.find_first_not_of(kSpace);
  if (first == std::string_view::npos) return {};
  return s.substr(first, s.find_last_not_of(kSpace) - first + 1);
}

// Every byte that is not printable ASCII becomes \xNN, so a name cannot move the cursor, break a row or print
// invalid UTF-8.
inline std::string printable_text(std::string_view bytes) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  out.reserve(bytes.size());
  for (char c : bytes) {
    auto b = static_cast<unsigned char>(c);
    if (b >= 0x20 && b < 0x7f && b != '\\') {
      out += c;
    } else {
      out += "\\x";
      out += kHex[b >> 4];
      out += kHex[b & 0xf];
    }
  }
  return out;
}

}  // namespace sigdrain

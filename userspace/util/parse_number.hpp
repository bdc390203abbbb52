// The one integer parser for sigdrain's own inputs (/proc, runtime state, config, CLI values, plans, the lock
// file), so each reader states only what it accepts beyond it (trimming, a range, a prefix), not how to parse.
#pragma once

#include <charconv>
#include <concepts>
#include <optional>
#include <string_view>
#include <system_error>

namespace sigdrain {

template <typename T>
concept ParsableInteger = std::integral<T> && !std::same_as<T, bool>;

namespace detail {
template <ParsableInteger T>
std::optional<T> parse_integer_at(std::string_view text, int base, bool whole) {
  T value{};
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value, base);
  if (ec != std::errc() || (whole && end != text.data() + text.size())) return std::nullopt;
  return value;
}
}  // namespace detail

// `text` as a whole is an integer in `base` that fits T. std::from_chars' rules: no blanks, no '+', a '-' only for
// a signed T, no "0x" in base 16; empty, trailing bytes or overflow give nullopt.
template <ParsableInteger T>
std::optional<T> parse_integer(std::string_view text, int base = 10) {
  return detail::parse_integer_at<T>(text, base, true);
}

// The integer `text` begins with, whatever follows it ("3\n", "12 drains"); the same rules for the number itself.
// For a reader that takes a prefix on purpose; the caller says why.
template <ParsableInteger T>
std::optional<T> parse_leading_integer(std::string_view text, int base = 10) {
  return detail::parse_integer_at<T>(text, base, false);
}

}  // namespace sigdrain

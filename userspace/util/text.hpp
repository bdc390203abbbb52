// Bytes from outside (comm, cmdline, labels, paths) shown in columns: every byte that is not printable ASCII
// becomes \xNN, so a name cannot move the cursor, break a row or print invalid UTF-8.
#pragma once

#include <string>
#include <string_view>

namespace sigdrain {

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

// Shared by the libFuzzer harnesses: the input as text, and a check that turns a broken invariant into a crash
// libFuzzer records (a plain assert would vanish in a release build).
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string_view>

namespace sigdrain::fuzz {

inline std::string_view as_text(const uint8_t* data, size_t size) {
  return std::string_view(reinterpret_cast<const char*>(data), size);
}

[[noreturn]] inline void invariant_failed(const char* what, const char* file, int line) {
  std::fprintf(stderr, "%s:%d: invariant failed: %s\n", file, line, what);
  std::abort();
}

}  // namespace sigdrain::fuzz

#define FUZZ_CHECK(cond) ((cond) ? (void)0 : ::sigdrain::fuzz::invariant_failed(#cond, __FILE__, __LINE__))

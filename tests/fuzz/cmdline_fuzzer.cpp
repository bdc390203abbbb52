// parse_cmdline on arbitrary bytes: no crash, and the arguments joined with NULs give the input back (with the last
// NUL added when the input lacked it).
#include <string>

#include "fuzz_check.hpp"
#include "proc/proc.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace sigdrain;
  std::string_view text = fuzz::as_text(data, size);
  auto argv = parse_cmdline(text);
  std::string joined;
  for (const auto& arg : argv) {
    FUZZ_CHECK(arg.find('\0') == std::string::npos);
    joined += arg;
    joined += '\0';
  }
  std::string expected(text);
  if (!expected.empty() && expected.back() != '\0') expected += '\0';
  FUZZ_CHECK(joined == expected);
  return 0;
}

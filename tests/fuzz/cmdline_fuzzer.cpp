// parse_cmdline on arbitrary bytes: no crash, and the arguments joined with NULs give the input back (with the last
// NUL added when the input lacked it); and the arguments, any bytes, always make one line of valid JSON and
// printable columns.
#include <string>

#include "fuzz_check.hpp"
#include "proc/proc.hpp"
#include "util/json.hpp"
#include "util/text.hpp"

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

  std::string line = json_text(nlohmann::json{{"cmdline", argv}});
  FUZZ_CHECK(line.find('\n') == std::string::npos);
  FUZZ_CHECK(!nlohmann::json::parse(line, nullptr, false).is_discarded());
  for (char c : printable_text(text)) FUZZ_CHECK(c >= 0x20 && c < 0x7f);
  return 0;
}

// parse_stat_start_time on arbitrary /proc/<pid>/stat texts: no crash, and an error carries a message.
#include "fuzz_check.hpp"
#include "proc/proc.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  auto start = sigdrain::parse_stat_start_time(sigdrain::fuzz::as_text(data, size));
  if (!start) FUZZ_CHECK(!start.error().message.empty());
  return 0;
}

// parse_signal on arbitrary text: no crash; an accepted signal is 1..64 and its name parses back to it.
#include "fuzz_check.hpp"
#include "signals/signal_names.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace sigdrain;
  auto signo = parse_signal(fuzz::as_text(data, size));
  if (!signo) return 0;
  FUZZ_CHECK(*signo >= 1 && *signo <= 64);
  FUZZ_CHECK(parse_signal(signal_name(*signo)) == signo);
  return 0;
}

// parse_proc_status on arbitrary /proc/<pid>/status texts: no crash; a parsed status always has an NSpid chain and
// every signal number has a disposition.
#include "fuzz_check.hpp"
#include "proc/proc.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace sigdrain;
  auto status = parse_proc_status(fuzz::as_text(data, size));
  if (!status) {
    FUZZ_CHECK(!status.error().message.empty());
    return 0;
  }
  FUZZ_CHECK(!status->nspid.empty());
  for (int signo = -1; signo <= 66; ++signo) FUZZ_CHECK(!disposition_name(status->masks.disposition(signo)).empty());
  return 0;
}

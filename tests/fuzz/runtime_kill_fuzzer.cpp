// parse_runtime_kill on any cmdline bytes (what the daemon reads from /proc/<pid>/cmdline of a gated process): no
// crash; a kill it accepts names a runtime binary, a non-empty id that is one of the words, and a signal of 1..99;
// gate_holds never holds SIGKILL. decode_gated on the same bytes: only a record of exactly its size decodes.
#include <csignal>
#include <span>
#include <string>
#include <vector>

#include "fuzz_check.hpp"
#include "hold/runtime_kill.hpp"
#include "hold/stop_gate.hpp"
#include "proc/proc.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace sigdrain;
  std::string_view text = fuzz::as_text(data, size);
  std::vector<std::string> argv = parse_cmdline(text);
  if (auto kill = parse_runtime_kill(argv)) {
    FUZZ_CHECK(is_runtime_binary(argv[0]) && kill->runtime == path_basename(argv[0]));
    FUZZ_CHECK(!kill->container_id.empty() && !kill->container_id.starts_with('-'));
    FUZZ_CHECK(std::find(argv.begin() + 1, argv.end(), kill->container_id) != argv.end());
    FUZZ_CHECK(kill->signo >= 0 && kill->signo <= 99);
    const int everything[] = {SIGHUP, SIGINT, SIGQUIT, SIGKILL, SIGTERM};
    FUZZ_CHECK(kill->signo != SIGKILL || !gate_holds(*kill, everything));
  }
  auto gated = decode_gated(std::as_bytes(std::span(data, size)));
  FUZZ_CHECK(!gated || size == 24 + 128);
  return 0;
}

// parse_plan on arbitrary text: no crash; an accepted plan sends a signal, keeps pauses in range, and format_plan()
// gives text that parses back to the same steps and formats to itself.
#include <chrono>

#include "fuzz_check.hpp"
#include "policy/plan.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace sigdrain;
  auto steps = parse_plan(fuzz::as_text(data, size));
  if (!steps) {
    FUZZ_CHECK(!steps.error().message.empty());
    return 0;
  }
  bool sends_signal = false;
  for (const auto& step : *steps) {
    if (step.signo != 0) {
      sends_signal = true;
      FUZZ_CHECK(step.signo >= 1 && step.signo <= 64);
    } else {
      FUZZ_CHECK(step.pause >= std::chrono::milliseconds(1) && step.pause <= std::chrono::seconds(600));
    }
  }
  FUZZ_CHECK(sends_signal);
  std::string text = format_plan(*steps);
  auto again = parse_plan(text);
  if (!again) std::fprintf(stderr, "format_plan gave \"%s\": %s\n", text.c_str(), again.error().message.c_str());
  FUZZ_CHECK(again.ok());
  FUZZ_CHECK(*again == *steps);
  FUZZ_CHECK(format_plan(*again) == text);
  return 0;
}

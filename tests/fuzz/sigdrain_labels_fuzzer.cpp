// parse_sigdrain_labels on a label map built from the input: one "key=value" per line (a line without '=' is a
// key with an empty value). No crash; accepted settings are valid (a plan parses, the signal is a signal).
#include <map>
#include <string>

#include "fuzz_check.hpp"
#include "policy/plan.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace sigdrain;
  std::string_view text = fuzz::as_text(data, size);
  std::map<std::string, std::string> labels;
  while (!text.empty()) {
    size_t newline = text.find('\n');
    std::string_view line = text.substr(0, newline);
    size_t eq = line.find('=');
    labels[std::string(line.substr(0, eq))] = eq == std::string_view::npos ? "" : std::string(line.substr(eq + 1));
    if (newline == std::string_view::npos) break;
    text.remove_prefix(newline + 1);
  }
  auto settings = parse_sigdrain_labels(labels);
  if (!settings) {
    FUZZ_CHECK(!settings.error().message.empty());
    return 0;
  }
  FUZZ_CHECK(!(settings->plan && settings->stop_signal));
  if (settings->plan) FUZZ_CHECK(parse_plan(*settings->plan).ok());
  if (settings->stop_signal) FUZZ_CHECK(*settings->stop_signal >= 1 && *settings->stop_signal <= 64);
  if (settings->quiet) FUZZ_CHECK(settings->quiet->count() >= 0);
  if (settings->max_drain) FUZZ_CHECK(settings->max_drain->count() >= 0);
  return 0;
}

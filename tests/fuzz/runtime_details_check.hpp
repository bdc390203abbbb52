// What every parsed RuntimeDetails must satisfy, whichever runtime's file it came from; and names_container()
// exercised against it with queries cut from its own fields.
#pragma once

#include "containers/runtime_state.hpp"
#include "fuzz_check.hpp"

namespace sigdrain::fuzz {

inline void check_runtime_details(const Result<RuntimeDetails>& details) {
  if (!details) {
    FUZZ_CHECK(!details.error().message.empty());
    return;
  }
  if (details->stop_signal) FUZZ_CHECK(*details->stop_signal >= 1 && *details->stop_signal <= 64);
  if (!details->name.empty()) FUZZ_CHECK(names_container(*details, details->name));
  if (details->id.size() >= 3) FUZZ_CHECK(names_container(*details, details->id));
  (void)names_container(*details, "");
  (void)names_container(*details, details->id.substr(0, 2));
  (void)names_container(*details, details->pod_namespace + "/" + details->pod_name + "/" + details->name);
}

}  // namespace sigdrain::fuzz

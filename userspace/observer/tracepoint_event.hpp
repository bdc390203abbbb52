// Raw tracepoint attachment without a skeleton: what the link probe and the bench's empty-program floor share.
#pragma once

#include <string>

#include "util/fd.hpp"
#include "util/result.hpp"

namespace sigdrain {

// Loads an empty tracepoint program (r0 = 0; exit) named `name`: a probe that costs nothing but the run itself.
Result<UniqueFd> load_empty_tracepoint_program(const char* name);

// Opens a perf event on the tracepoint `event` ("category/name") under `tracefs`; pid -1, cpu 0: a tracepoint's
// BPF program runs on every CPU (as libbpf opens it).
Result<UniqueFd> open_tracepoint_event(const std::string& tracefs, const std::string& event);

}  // namespace sigdrain

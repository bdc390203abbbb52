// Runs a helper program (podman) and collects its standard output, with a deadline.
#pragma once

#include <chrono>
#include <string>
#include <vector>

#include "util/result.hpp"

namespace sigdrain {

// Runs argv[0] (looked up in PATH) with stdin and stderr on /dev/null. Fails when it cannot start, exits non-zero,
// dies from a signal, or outlives `timeout` (it is then killed). Output beyond 64 MiB is an error too.
Result<std::string> run_command(const std::vector<std::string>& argv, std::chrono::milliseconds timeout);

}  // namespace sigdrain

// A ProcessFacts for policy tests: argv is just the comm, no signal caught.
#pragma once

#include <string>

#include "proc/proc.hpp"

namespace sigdrain::testing_support {

inline ProcessFacts process_named(pid_t pid, pid_t ppid, std::string comm) {
  ProcessFacts p{};
  p.pid = pid;
  p.ppid = ppid;
  p.comm = comm;
  p.argv = {comm};
  return p;
}

}  // namespace sigdrain::testing_support

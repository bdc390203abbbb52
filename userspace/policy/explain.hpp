// What a runtime's plain stop (SIGTERM, a grace period, SIGKILL) does to a container, in words, and what to change.
// Pure: the same facts choose_plan() uses, plus the stop plan it chose.
#pragma once

#include <chrono>
#include <string>

#include "policy/plan.hpp"

namespace sigdrain {

struct StopExplanation {
  std::string forwards;    // how PID 1 passes the stop signal on, if it does
  std::string plain_stop;  // what `docker stop` / `podman stop` / the kubelet will do
  std::string advice;      // what to change for a graceful stop
};

StopExplanation explain_plain_stop(const PlanInputs& inputs, const StopPlan& plan, std::chrono::seconds timeout);

}  // namespace sigdrain

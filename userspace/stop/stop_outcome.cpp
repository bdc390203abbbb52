#include "stop/stop_outcome.hpp"

namespace sigdrain {

std::string_view released_by_name(ReleasedBy by) {
  switch (by) {
    case ReleasedBy::idle: return "idle";
    case ReleasedBy::deadline: return "deadline";
    case ReleasedBy::exited: break;
  }
  return "exited";
}

std::string_view stop_outcome_name(StopOutcome outcome) {
  switch (outcome) {
    case StopOutcome::graceful: return "graceful";
    case StopOutcome::killed: return "killed";
    case StopOutcome::unknown: break;
  }
  return "unknown";
}

}  // namespace sigdrain

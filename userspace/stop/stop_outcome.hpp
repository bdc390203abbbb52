// How a stop ended, as the stop record, the daemon's metrics and safe-stop's exit status name it. The names are
// the stop record's JSON values ("drain.released_by", "exit.outcome") and the metrics' label values.
#pragma once

#include <array>
#include <string_view>

namespace sigdrain {

// What ended the drain: idle for the quiet window, the drain deadline, or the container's exit during it.
enum class ReleasedBy { idle, deadline, exited };
inline constexpr std::array kReleasedByValues{ReleasedBy::idle, ReleasedBy::deadline, ReleasedBy::exited};
std::string_view released_by_name(ReleasedBy by);  // "idle", "deadline", "exited"

// graceful: the container exited without a SIGKILL; killed: sigdrain's SIGKILL at the timeout, or one sent by
// someone else (e.g. `podman rm -f`); unknown: the daemon saw no exit (lost event, or none by the kill time).
enum class StopOutcome { graceful, killed, unknown };
inline constexpr std::array kStopOutcomeValues{StopOutcome::graceful, StopOutcome::killed, StopOutcome::unknown};
std::string_view stop_outcome_name(StopOutcome outcome);  // "graceful", "killed", "unknown"

}  // namespace sigdrain

// Which containers the daemon guards, and what a discovery scan changes. Pure.
#pragma once

#include <sys/types.h>

#include <map>
#include <string>
#include <vector>

namespace sigdrain {

enum class GuardMode { all, labelled };  // all but opted out, or only those with sigdrain.io/guard=true

struct GuardDecision {
  bool guard = false;
  std::string reason;  // why not, for `sigdrain ps` and the log
};

// `described`: the runtime has described the container (labels and init known). One it has not may have opted out
// in labels nobody could read yet: never guarded on guesswork.
GuardDecision decide_guard(const std::map<std::string, std::string>& labels, GuardMode mode, bool described = true);

// A container the daemon knows, as reconcile judges it.
struct KnownContainer {
  pid_t init_pid = 0;     // 0: its runtime had not described it
  bool stopping = false;  // a stop of it is in progress
};

struct ReconcileChanges {
  std::vector<std::string> gone;   // to let go and forget, in id order
  std::vector<std::string> added;  // to take in (guard or observe), in id order
};

// What a discovery scan changes. `seen`: the scan's containers, id -> init pid (0: not described by its runtime yet).
// Gone: known but not seen, unless being stopped: it stays known until its stop ends (the runtime may remove its
// cgroup before the init's exit is read, and that exit ends the stop). Also gone, and added again: one its runtime
// described since the last scan (its init is known now), so it is judged anew with its labels. Added: seen, not
// known (or gone as just said).
ReconcileChanges plan_reconcile(const std::map<std::string, KnownContainer>& known, const std::map<std::string, pid_t>& seen);

}  // namespace sigdrain

// Which containers the daemon guards. Pure.
#pragma once

#include <map>
#include <string>

namespace sigdrain {

enum class GuardMode { all, labelled };  // all but opted out, or only those with sigdrain.io/guard=true

struct GuardDecision {
  bool guard = false;
  std::string reason;  // why not, for `sigdrain ps` and the log
};

// `described`: the runtime has described the container (labels and init known). One it has not may have opted out
// in labels nobody could read yet: never guarded on guesswork.
GuardDecision decide_guard(const std::map<std::string, std::string>& labels, GuardMode mode, bool described = true);

}  // namespace sigdrain

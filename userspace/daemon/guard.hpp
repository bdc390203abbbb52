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

GuardDecision decide_guard(const std::map<std::string, std::string>& labels, GuardMode mode);

}  // namespace sigdrain

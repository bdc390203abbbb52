#include "daemon/guard.hpp"

namespace sigdrain {

GuardDecision decide_guard(const std::map<std::string, std::string>& labels, GuardMode mode, bool described) {
  if (!described) return {false, "its runtime does not describe it (yet): not guarded until it does"};
  auto it = labels.find("sigdrain.io/guard");
  if (it != labels.end() && it->second == "false") return {false, "opted out: sigdrain.io/guard=false"};
  if (it != labels.end() && it->second != "true") return {false, "label sigdrain.io/guard must be true or false"};
  if (mode == GuardMode::labelled && it == labels.end()) return {false, "not labelled sigdrain.io/guard=true"};
  return {true, ""};
}

}  // namespace sigdrain

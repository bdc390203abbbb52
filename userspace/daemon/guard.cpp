#include "daemon/guard.hpp"

#include <algorithm>

namespace sigdrain {

GuardDecision decide_guard(const std::map<std::string, std::string>& labels, GuardMode mode, bool described) {
  if (!described) return {false, "its runtime does not describe it (yet): not guarded until it does"};
  auto it = labels.find("sigdrain.io/guard");
  if (it != labels.end() && it->second == "false") return {false, "opted out: sigdrain.io/guard=false"};
  if (it != labels.end() && it->second != "true") return {false, "label sigdrain.io/guard must be true or false"};
  if (mode == GuardMode::labelled && it == labels.end()) return {false, "not labelled sigdrain.io/guard=true"};
  return {true, ""};
}

ReconcileChanges plan_reconcile(const std::map<std::string, KnownContainer>& known, const std::map<std::string, pid_t>& seen) {
  ReconcileChanges changes;
  for (const auto& [id, k] : known) {
    auto now_seen = seen.find(id);
    bool described_now = now_seen != seen.end() && k.init_pid <= 0 && now_seen->second > 0;
    if ((now_seen == seen.end() || described_now) && !k.stopping) changes.gone.push_back(id);
  }
  for (const auto& [id, init_pid] : seen) {
    auto k = known.find(id);
    bool gone = k != known.end() && std::binary_search(changes.gone.begin(), changes.gone.end(), id);
    if (k == known.end() || gone) changes.added.push_back(id);
  }
  return changes;
}

}  // namespace sigdrain

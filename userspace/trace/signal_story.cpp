#include "trace/signal_story.hpp"

#include <algorithm>
#include <csignal>

#include "signals/signal_names.hpp"

namespace sigdrain {

std::optional<int64_t> SignalStory::on_signal(uint32_t tgid, int signo, uint64_t time_ns) {
  if (signo == SIGKILL) {
    auto it = last_.find(tgid);
    if (it == last_.end() || time_ns < it->second.time_ns) return std::nullopt;
    return static_cast<int64_t>((time_ns - it->second.time_ns) / 1'000'000);
  }
  if (!is_stop_signal(signo)) return std::nullopt;
  if (last_.size() >= capacity_ && !last_.contains(tgid)) {
    auto oldest = std::min_element(last_.begin(), last_.end(),
                                   [](const auto& a, const auto& b) { return a.second.time_ns < b.second.time_ns; });
    last_.erase(oldest);
  }
  last_[tgid] = StopSignal{signo, time_ns};
  return std::nullopt;
}

std::optional<SignalStory::StopSignal> SignalStory::last_stop_signal(uint32_t tgid) const {
  auto it = last_.find(tgid);
  if (it == last_.end()) return std::nullopt;
  return it->second;
}

}  // namespace sigdrain

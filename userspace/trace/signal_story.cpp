#include "trace/signal_story.hpp"

#include <algorithm>
#include <csignal>

#include "signals/signal_names.hpp"

namespace sigdrain {

std::optional<int64_t> SignalStory::on_signal(uint32_t tgid, int signo, uint64_t time_ns) {
  std::optional<int64_t> escalation;
  if (auto it = last_.find(tgid); signo == SIGKILL && it != last_.end() && it->second.stop &&
                                  time_ns >= it->second.stop->time_ns)
    escalation = static_cast<int64_t>((time_ns - it->second.stop->time_ns) / 1'000'000);
  if (last_.size() >= capacity_ && !last_.contains(tgid)) {
    auto oldest = std::min_element(last_.begin(), last_.end(), [](const auto& a, const auto& b) {
      return a.second.any.time_ns < b.second.any.time_ns;
    });
    last_.erase(oldest);
  }
  Seen& seen = last_[tgid];
  seen.any = StopSignal{signo, time_ns};
  if (is_stop_signal(signo)) seen.stop = StopSignal{signo, time_ns};
  return escalation;
}

std::optional<SignalStory::StopSignal> SignalStory::last_stop_signal(uint32_t tgid) const {
  auto it = last_.find(tgid);
  if (it == last_.end()) return std::nullopt;
  return it->second.stop;
}

std::optional<SignalStory::StopSignal> SignalStory::signal_before_exit(uint32_t tgid) const {
  auto it = last_.find(tgid);
  if (it == last_.end()) return std::nullopt;
  return it->second.stop ? it->second.stop : it->second.any;
}

}  // namespace sigdrain

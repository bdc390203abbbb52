#include "stop/old_connections.hpp"

#include <algorithm>

namespace sigdrain {

DrainSample OldConnections::adjust(DrainSample sample, const std::set<uint64_t>& open_now, int64_t adopted_open) {
  std::erase_if(unseen_, [&](uint64_t c) { return !open_now.contains(c); });
  int64_t unseen = static_cast<int64_t>(unseen_.size()) - std::max<int64_t>(adopted_open, 0);
  if (unseen > 0) {
    sample.inflight = std::max<int64_t>(sample.inflight, 0) + unseen;
    sample.last_activity = sample.now;
  }
  return sample;
}

}  // namespace sigdrain

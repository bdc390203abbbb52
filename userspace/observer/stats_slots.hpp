// Which slots of the BPF cgroup_stats array are given to watched cgroups (bpf/sockets.h). Slot 0 is never given.
// A slot given back is given again as late as possible (the next free one after the last given, round the array):
// a socket of the cgroup that held it may still close, and the BPF side ignores it only once the slot names
// another cgroup, so the later the better.
#pragma once

#include <cstdint>
#include <optional>
#include <vector>

namespace sigdrain {

class StatsSlots {
 public:
  // Slots 1 .. count-1.
  explicit StatsSlots(uint32_t count) : taken_(count, false), last_(0) {
    if (!taken_.empty()) taken_[0] = true;
  }
  // A slot found taken (adopted maps): not given again until given back; the next ones given come after it.
  void mark_taken(uint32_t slot) {
    if (slot == 0 || slot >= taken_.size()) return;
    taken_[slot] = true;
    if (slot > last_) last_ = slot;
  }
  // nullopt when every slot is taken.
  std::optional<uint32_t> take() {
    const auto count = static_cast<uint32_t>(taken_.size());
    for (uint32_t step = 1; step < count; ++step) {
      const uint32_t slot = (last_ + step) % count;
      if (taken_[slot]) continue;
      taken_[slot] = true;
      last_ = slot;
      return slot;
    }
    return std::nullopt;
  }
  void give_back(uint32_t slot) {
    if (slot != 0 && slot < taken_.size()) taken_[slot] = false;
  }

 private:
  std::vector<bool> taken_;
  uint32_t last_;
};

}  // namespace sigdrain

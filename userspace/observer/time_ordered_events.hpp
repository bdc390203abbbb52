// Events read from per-CPU ring buffers, handed on in the order they happened. Each ring (a source) holds its own
// CPU's events in order, but across rings an event read now may be older than one read before: a signal generated
// on one CPU and the target's death on another must still reach trace in that order. An event is handed on once it
// is older than the window when the rings are read: a BPF program writes its event within microseconds of taking
// its time (it runs with preemption off), so by then every older event is in its ring and was read in the same
// pass. Handing on merges the sources' queues by time: a few comparisons per event, however many are held.
#pragma once

#include <cstddef>
#include <cstdint>
#include <deque>
#include <variant>
#include <vector>

#include "observer/bpf_events.hpp"

namespace sigdrain {

inline uint64_t event_time_ns(const ObservedEvent& ev) {
  return std::visit([](const auto& e) -> uint64_t { return e.time_ns; }, ev);
}

class TimeOrderedEvents {
 public:
  TimeOrderedEvents(size_t sources, uint64_t window_ns) : queues_(sources), window_ns_(window_ns) {}

  // An event read from `source` (< sources), after every earlier one read from it.
  void add(size_t source, const ObservedEvent& ev) { queues_.at(source).push_back(ev); }

  // Hands `handle` every event taken at or before read_start_ns - window, oldest first (equal times: the lower
  // source first), and keeps the rest. read_start_ns: the clock (CLOCK_MONOTONIC, as bpf_ktime_get_ns) read before
  // the rings were. Returns how many were handed on.
  template <class Handle>
  size_t release_settled(uint64_t read_start_ns, Handle&& handle) {
    if (read_start_ns < window_ns_) return 0;
    return release_up_to(read_start_ns - window_ns_, handle);
  }

  // Every event held, oldest first: when no more will be read (the reader stops).
  template <class Handle>
  size_t release_all(Handle&& handle) {
    return release_up_to(UINT64_MAX, handle);
  }

  size_t held() const {
    size_t n = 0;
    for (const auto& q : queues_) n += q.size();
    return n;
  }

 private:
  template <class Handle>
  size_t release_up_to(uint64_t last_ns, Handle& handle) {
    size_t n = 0;
    for (;;) {
      std::deque<ObservedEvent>* oldest = nullptr;
      uint64_t oldest_ns = 0;
      for (auto& q : queues_)
        if (!q.empty() && (!oldest || event_time_ns(q.front()) < oldest_ns)) {
          oldest = &q;
          oldest_ns = event_time_ns(q.front());
        }
      if (!oldest || oldest_ns > last_ns) return n;
      // Taken out before it is handed on: a handler that throws leaves it neither handed on twice nor held.
      ObservedEvent ev = std::move(oldest->front());
      oldest->pop_front();
      handle(ev);
      ++n;
    }
  }

  std::vector<std::deque<ObservedEvent>> queues_;
  uint64_t window_ns_;
};

}  // namespace sigdrain

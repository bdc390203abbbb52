// decode_event on arbitrary ring buffer records: no crash, no read past the record; a decoded event has the size and
// kind of its struct and its comm fields read within bounds.
#include <cstring>
#include <memory>
#include <span>
#include <type_traits>
#include <variant>

#include "fuzz_check.hpp"
#include "observer/bpf_events.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace sigdrain;
  // A copy of exactly `size` bytes, so ASan sees any read past the record's end.
  auto record = std::make_unique<std::byte[]>(size);
  if (size) std::memcpy(record.get(), data, size);
  auto event = decode_event(std::span<const std::byte>(record.get(), size));
  if (!event) return 0;
  std::visit(
      [&](const auto& ev) {
        using Event = std::decay_t<decltype(ev)>;
        FUZZ_CHECK(size == sizeof(Event));
        FUZZ_CHECK(std::memcmp(&ev, record.get(), size) == 0);
        if constexpr (std::is_same_v<Event, SignalEvent>) {
          FUZZ_CHECK(ev.kind == SIGDRAIN_EV_SIGNAL);
          FUZZ_CHECK(comm_view(ev.sender_comm).size() <= SIGDRAIN_COMM_LEN);
          FUZZ_CHECK(comm_view(ev.target_comm).size() <= SIGDRAIN_COMM_LEN);
        } else if constexpr (std::is_same_v<Event, DeliverEvent>) {
          FUZZ_CHECK(ev.kind == SIGDRAIN_EV_DELIVER);
          FUZZ_CHECK(comm_view(ev.comm).size() <= SIGDRAIN_COMM_LEN);
        } else {
          FUZZ_CHECK(ev.kind == SIGDRAIN_EV_EXIT);
          FUZZ_CHECK(comm_view(ev.comm).size() <= SIGDRAIN_COMM_LEN);
        }
      },
      *event);
  return 0;
}

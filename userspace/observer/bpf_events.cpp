#include "observer/bpf_events.hpp"

#include <cstring>

namespace sigdrain {
namespace {

template <typename T>
std::optional<ObservedEvent> copy_as(std::span<const std::byte> record) {
  if (record.size() != sizeof(T)) return std::nullopt;
  T event;
  std::memcpy(&event, record.data(), sizeof(T));
  return ObservedEvent{event};
}

}  // namespace

std::optional<ObservedEvent> decode_event(std::span<const std::byte> record) {
  if (record.size() < sizeof(__u32)) return std::nullopt;
  __u32 kind;
  std::memcpy(&kind, record.data(), sizeof(kind));
  switch (kind) {
    case SIGDRAIN_EV_SIGNAL: return copy_as<SignalEvent>(record);
    case SIGDRAIN_EV_DELIVER: return copy_as<DeliverEvent>(record);
    case SIGDRAIN_EV_EXIT: return copy_as<ExitEvent>(record);
    default: return std::nullopt;
  }
}

std::string_view comm_view(const char (&comm)[SIGDRAIN_COMM_LEN]) {
  return std::string_view(comm, strnlen(comm, SIGDRAIN_COMM_LEN));
}

}  // namespace sigdrain

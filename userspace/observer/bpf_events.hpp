// The C++ side of the BPF ABI in bpf/signals.h and bpf/sockets.h: layout checks and decoding of ring
// buffer records. The structs themselves are the plain-C ones; they are not redefined here.
#pragma once

#include <linux/types.h>

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string_view>
#include <variant>

extern "C" {
#include "dispositions.h"
#include "signals.h"
#include "sockets.h"
}

namespace sigdrain {

static_assert(sizeof(sigdrain_signal_event) == 104);
static_assert(offsetof(sigdrain_signal_event, sig) == 4);
static_assert(offsetof(sigdrain_signal_event, time_ns) == 8);
static_assert(offsetof(sigdrain_signal_event, sender_cgroup) == 16);
static_assert(offsetof(sigdrain_signal_event, target_pid) == 32);
static_assert(offsetof(sigdrain_signal_event, result) == 48);
static_assert(offsetof(sigdrain_signal_event, disposition) == 52);
static_assert(offsetof(sigdrain_signal_event, sender_comm) == 56);
static_assert(offsetof(sigdrain_signal_event, target_comm) == 72);
static_assert(offsetof(sigdrain_signal_event, target_cgroup) == 88);
static_assert(offsetof(sigdrain_signal_event, target_tgid) == 96);

static_assert(sizeof(sigdrain_process_actions) == 32);
static_assert(offsetof(sigdrain_process_actions, threads) == 24);
static_assert(sizeof(sigdrain_thread_state) == 24);
static_assert(offsetof(sigdrain_thread_state, blocked) == 8);
static_assert(offsetof(sigdrain_thread_state, cgroup) == 16);

static_assert(sizeof(sigdrain_deliver_event) == 64);
static_assert(offsetof(sigdrain_deliver_event, cgroup) == 16);
static_assert(offsetof(sigdrain_deliver_event, handler_class) == 36);
static_assert(offsetof(sigdrain_deliver_event, sa_flags) == 40);
static_assert(offsetof(sigdrain_deliver_event, comm) == 48);

static_assert(sizeof(sigdrain_exit_event) == 48);
static_assert(offsetof(sigdrain_exit_event, cgroup) == 16);
static_assert(offsetof(sigdrain_exit_event, cause) == 24);
static_assert(offsetof(sigdrain_exit_event, comm) == 32);

static_assert(sizeof(sigdrain_sock_state) == 24);
static_assert(offsetof(sigdrain_sock_state, owner_tgid) == 8);
static_assert(offsetof(sigdrain_sock_state, local_port) == 12);
static_assert(offsetof(sigdrain_sock_state, direction) == 14);
static_assert(offsetof(sigdrain_sock_state, flags) == 15);
static_assert(offsetof(sigdrain_sock_state, watch_generation) == 16);
static_assert(offsetof(sigdrain_sock_state, stats_slot) == 20);

static_assert(sizeof(sigdrain_cgroup_stats) == 56);
static_assert(offsetof(sigdrain_cgroup_stats, open_inbound) == 8);
static_assert(offsetof(sigdrain_cgroup_stats, inflight) == 16);
static_assert(offsetof(sigdrain_cgroup_stats, listening) == 24);
static_assert(offsetof(sigdrain_cgroup_stats, requests_completed) == 32);
static_assert(offsetof(sigdrain_cgroup_stats, activity) == 40);
static_assert(offsetof(sigdrain_cgroup_stats, adopted_open) == 48);

using SignalEvent = sigdrain_signal_event;
using DeliverEvent = sigdrain_deliver_event;
using ExitEvent = sigdrain_exit_event;
using ObservedEvent = std::variant<SignalEvent, DeliverEvent, ExitEvent>;

// A ring buffer record as an event; nullopt for a record of unknown kind or wrong size.
std::optional<ObservedEvent> decode_event(std::span<const std::byte> record);

// A comm field as text: up to the first NUL, at most SIGDRAIN_COMM_LEN bytes.
std::string_view comm_view(const char (&comm)[SIGDRAIN_COMM_LEN]);

}  // namespace sigdrain

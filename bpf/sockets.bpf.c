// SPDX-License-Identifier: GPL-2.0
/* Sockets: per-connection state keyed by the socket's kernel address, and per-cgroup aggregates
 * (open inbound connections, requests in flight). Nothing per send/recv goes to user space; it reads
 * the aggregates. The tracepoint programs read context fields only, so they load under lockdown. */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

#include "sockets.h"

#define AF_INET_NR 2
#define AF_INET6_NR 10
#define IPPROTO_TCP_NR 6
#define MSG_PEEK_FLAG 2
#define TCP_ESTABLISHED_NR 1
#define TCP_SYN_SENT_NR 2
#define TCP_SYN_RECV_NR 3
#define TCP_CLOSE_NR 7
#define TCP_LISTEN_NR 10

__u64 counters[SIGDRAIN_SOCK_CNT_MAX];

/* Set before load. False: a socket's data counts only while its owner's cgroup is in `watched_cgroups` (the daemon
 * and safe-stop name the containers they care about). The verdict is kept in the socket's state, so a send or
 * receive on a socket of any other cgroup costs the one state lookup every call makes and leaves; it is taken
 * again when user space has watched another cgroup since (watch_generation moved on). */
const volatile bool watch_all_cgroups = true;

/* Entry 0: watch_generation, bumped by user space after each cgroup it adds to watched_cgroups. A map, not .bss:
 * the daemon pins it with the socket states (a restarted daemon goes on from the generation the states hold). */
struct {
  __uint(type, BPF_MAP_TYPE_ARRAY);
  __uint(max_entries, 1);
  __type(key, __u32);
  __type(value, __u32);
} watch_state SEC(".maps");

static __always_inline __u32 watch_generation(void) {
  __u32 zero = 0;
  __u32 *generation = bpf_map_lookup_elem(&watch_state, &zero);
  return generation ? *(volatile __u32 *)generation : 0;
}

struct {
  __uint(type, BPF_MAP_TYPE_HASH);
  __uint(max_entries, SIGDRAIN_MAX_WATCHED_CGROUPS);
  __type(key, __u64); /* cgroup v2 id */
  __type(value, __u8);
} watched_cgroups SEC(".maps");

struct {
  __uint(type, BPF_MAP_TYPE_LRU_HASH);
  __uint(max_entries, 65536); /* resized by user space before load */
  __type(key, __u64);         /* struct sock * */
  __type(value, struct sigdrain_sock_state);
} sock_states SEC(".maps");

/* Sockets that reached TCP_CLOSE, for a short while. A reset that arrives during a send or receive is processed
 * when the call releases the socket lock, so TCP_CLOSE fires before the call's sock_*_length tracepoint; without
 * this, that late event would recreate the closed socket as one opened before sigdrain started, counted open and
 * in flight for good. Looked up only for a socket without state: a socket made later at the same address gets its
 * state when it connects (ESTABLISHED) or listens, before any data. */
struct {
  __uint(type, BPF_MAP_TYPE_LRU_HASH);
  __uint(max_entries, 4096); /* the window is microseconds: entries only need to outlive the call that raced */
  __type(key, __u64);        /* struct sock * */
  __type(value, __u8);
} closed_sockets SEC(".maps");

struct {
  __uint(type, BPF_MAP_TYPE_HASH);
  __uint(max_entries, 16384);
  __type(key, __u64); /* cgroup v2 id */
  __type(value, struct sigdrain_cgroup_stats);
} cgroup_stats SEC(".maps");

static __always_inline int is_tcp(__u16 family, __u16 protocol) {
  return (family == AF_INET_NR || family == AF_INET6_NR) && protocol == IPPROTO_TCP_NR;
}

static __always_inline struct sigdrain_cgroup_stats *stats_of(__u64 cgroup_id) {
  struct sigdrain_cgroup_stats *s = bpf_map_lookup_elem(&cgroup_stats, &cgroup_id);
  if (s) return s;
  struct sigdrain_cgroup_stats zero = {};
  bpf_map_update_elem(&cgroup_stats, &cgroup_id, &zero, BPF_NOEXIST); /* EEXIST: another CPU won */
  s = bpf_map_lookup_elem(&cgroup_stats, &cgroup_id);
  if (!s) __sync_fetch_and_add(&counters[SIGDRAIN_SOCK_CNT_NEW_CGROUP_FAIL], 1);
  return s;
}

static __always_inline int counts_as_inbound(__u8 direction) {
  return direction == SIGDRAIN_DIR_INBOUND || direction == SIGDRAIN_DIR_INBOUND_GUESSED;
}

/* Process context: the current task owns the socket. Counts it in its cgroup the first time. */
static __always_inline void take_ownership(struct sigdrain_sock_state *st) {
  if (st->flags & SIGDRAIN_SOCK_OWNED) return;
  st->owner_tgid = bpf_get_current_pid_tgid() >> 32;
  st->cgroup_id = bpf_get_current_cgroup_id();
  st->flags |= SIGDRAIN_SOCK_OWNED;
  if (!counts_as_inbound(st->direction) && !(st->flags & SIGDRAIN_SOCK_ADOPTED)) return;
  struct sigdrain_cgroup_stats *s = stats_of(st->cgroup_id);
  if (!s) return;
  if (counts_as_inbound(st->direction)) {
    __sync_fetch_and_add(&s->open_inbound, 1);
    st->flags |= SIGDRAIN_SOCK_COUNTED;
  }
  if (st->flags & SIGDRAIN_SOCK_ADOPTED) {
    __sync_fetch_and_add(&s->adopted_open, 1);
    st->flags |= SIGDRAIN_SOCK_ADOPTED_COUNTED;
  }
}

static __always_inline int cgroup_watched(__u64 cgroup_id) {
  return watch_all_cgroups || bpf_map_lookup_elem(&watched_cgroups, &cgroup_id) != NULL;
}

/* Process context: false when the socket belongs to a cgroup nobody watches, remembered in its state. A socket
 * ignored so far whose cgroup is watched now counts from here on like one opened before sigdrain started (its
 * earlier data was not seen), so the drain errs towards waiting, never towards a cut request. */
static __always_inline int socket_watched(struct sigdrain_sock_state *st) {
  if (watch_all_cgroups) return 1;
  if (st->flags & SIGDRAIN_SOCK_IGNORED) {
    __u32 generation = watch_generation();
    if (st->watch_generation == generation) return 0;
    if (!cgroup_watched(st->cgroup_id)) {
      st->watch_generation = generation;
      return 0;
    }
    st->flags = SIGDRAIN_SOCK_ADOPTED; /* not OWNED: take_ownership counts it in its cgroup now */
    return 1;
  }
  if (st->flags & SIGDRAIN_SOCK_OWNED) return 1; /* judged watched when it was taken */
  __u64 cgroup_id = bpf_get_current_cgroup_id();
  if (cgroup_watched(cgroup_id)) return 1;
  st->watch_generation = watch_generation(); /* read before the map: a cgroup added meanwhile moves it on */
  st->cgroup_id = cgroup_id;
  st->owner_tgid = bpf_get_current_pid_tgid() >> 32;
  st->flags |= SIGDRAIN_SOCK_IGNORED;
  return 0;
}

/* The ignored-socket cache: a direct-mapped table in .bss, in front of the sock_states lookup. An LRU hash lookup
 * is ~65 ns of every send and receive here, on a path whose empty program costs ~55; an array slot read is a load.
 * A slot says "this socket was judged ignored at this watch generation" in one 64-bit word, so a reader on another
 * CPU sees a whole slot or none (a torn one would skip a watched socket's data: a request not counted, a drain cut).
 *
 * The word: a socket's kernel address, 8-byte aligned and with its top 7 bits all set on every 64-bit kernel
 * (4- or 5-level page tables, arm64), carries 54 bits. An odd multiplier is a bijection on 54 bits, so the product's
 * top VERDICT_SLOT_BITS pick the slot and its other bits, the tag, name the socket exactly within it. Below the
 * tag: the generation's low bits and a set bit, so no live slot is 0 (empty).
 *
 * Only "ignored" is cached, and only a verdict read from a socket's state (set when its state was made or judged,
 * never for a state made by data after its close): a miss takes the full path. A hit holds while the generation
 * holds; a watched cgroup moves it on, and a socket then judged watched clears its slot. Every state change of a
 * socket clears its slot, and a socket at a reused address has one before its first data (LISTEN, SYN_SENT, or
 * SYN_RECV for an accepted one). The data path holds a reference to its socket, so a slot written by a call that
 * raced with the socket's close names a socket not freed before that call returns: its address's next life
 * clears it. */
#define VERDICT_SLOT_BITS 13
#define VERDICT_TAG_BITS (54 - VERDICT_SLOT_BITS)
#define VERDICT_GEN_BITS (64 - VERDICT_TAG_BITS - 1)
#define VERDICT_MULTIPLIER 0x9E3779B97F4A7C15ULL /* odd: 2^64 / golden ratio */
#define MASK_BITS(n) ((1ULL << (n)) - 1)

__u64 ignored_sockets[1 << VERDICT_SLOT_BITS];

struct verdict_slot {
  __u32 index;
  __u64 tag; /* the slot's word without its generation bits */
};

static __always_inline struct verdict_slot verdict_slot_of(__u64 sk) {
  __u64 hashed = ((sk >> 3) * VERDICT_MULTIPLIER) & MASK_BITS(54);
  struct verdict_slot slot = {
      .index = (__u32)(hashed >> VERDICT_TAG_BITS) & MASK_BITS(VERDICT_SLOT_BITS),
      .tag = (hashed & MASK_BITS(VERDICT_TAG_BITS)) << (VERDICT_GEN_BITS + 1),
  };
  return slot;
}

static __always_inline __u64 verdict_word(struct verdict_slot slot, __u32 generation) {
  return slot.tag | ((__u64)(generation & MASK_BITS(VERDICT_GEN_BITS)) << 1) | 1;
}

static __always_inline int cached_ignored(__u64 sk) {
  struct verdict_slot slot = verdict_slot_of(sk);
  return *(volatile __u64 *)&ignored_sockets[slot.index] == verdict_word(slot, watch_generation());
}

static __always_inline void cache_ignored(__u64 sk, __u32 generation) {
  struct verdict_slot slot = verdict_slot_of(sk);
  *(volatile __u64 *)&ignored_sockets[slot.index] = verdict_word(slot, generation);
}

static __always_inline void forget_cached_verdict(__u64 sk) {
  struct verdict_slot slot = verdict_slot_of(sk);
  __u64 word = *(volatile __u64 *)&ignored_sockets[slot.index];
  if ((word & ~MASK_BITS(VERDICT_GEN_BITS + 1)) == slot.tag) *(volatile __u64 *)&ignored_sockets[slot.index] = 0;
}

/* `cached`: use the ignored-socket cache. The fexit programs cannot: their `sk` is a typed pointer, which the
 * verifier keeps from the cache's arithmetic, so on kernels without the sock_*_length tracepoints (< 6.3) every
 * call takes the state lookup. */
static __always_inline struct sigdrain_sock_state *state_for_data(__u64 sk, __u8 direction_if_new, bool cached) {
  cached = cached && !watch_all_cgroups;
  if (cached && cached_ignored(sk)) return NULL;
  struct sigdrain_sock_state *st = bpf_map_lookup_elem(&sock_states, &sk);
  if (st) {
    int was_ignored = st->flags & SIGDRAIN_SOCK_IGNORED;
    if (socket_watched(st)) {
      if (cached && was_ignored) forget_cached_verdict(sk); /* its slot's generation must not match after a wrap */
      return st;
    }
    if (cached) cache_ignored(sk, st->watch_generation);
    return NULL;
  }
  if (bpf_map_lookup_elem(&closed_sockets, &sk)) return NULL; /* the call returned after its socket closed */
  struct sigdrain_sock_state fresh = {.direction = direction_if_new, .flags = SIGDRAIN_SOCK_ADOPTED};
  bpf_map_update_elem(&sock_states, &sk, &fresh, BPF_NOEXIST); /* EEXIST: another CPU won */
  st = bpf_map_lookup_elem(&sock_states, &sk);
  if (!st) {
    __sync_fetch_and_add(&counters[SIGDRAIN_SOCK_CNT_NEW_STATE_FAIL], 1);
    return NULL;
  }
  return socket_watched(st) ? st : NULL;
}

SEC("tracepoint/sock/inet_sock_set_state")
int on_inet_sock_set_state(struct trace_event_raw_inet_sock_set_state *ctx) {
  if (!is_tcp(ctx->family, ctx->protocol)) return 0;
  __u64 sk = (__u64)ctx->skaddr;
  int oldstate = ctx->oldstate, newstate = ctx->newstate;
  if (!watch_all_cgroups) forget_cached_verdict(sk);

  if (newstate == TCP_ESTABLISHED_NR && (oldstate == TCP_SYN_RECV_NR || oldstate == TCP_SYN_SENT_NR)) {
    /* Often softirq: the current task is not the owner, so only the direction is recorded here. */
    struct sigdrain_sock_state fresh = {
        .local_port = ctx->sport,
        .direction = oldstate == TCP_SYN_RECV_NR ? SIGDRAIN_DIR_INBOUND : SIGDRAIN_DIR_OUTBOUND,
    };
    if (bpf_map_update_elem(&sock_states, &sk, &fresh, BPF_ANY))
      __sync_fetch_and_add(&counters[SIGDRAIN_SOCK_CNT_NEW_STATE_FAIL], 1);
    return 0;
  }

  if (newstate == TCP_LISTEN_NR) {
    /* listen() runs in the owner's process context. */
    struct sigdrain_sock_state fresh = {.local_port = ctx->sport, .direction = SIGDRAIN_DIR_LISTEN};
    fresh.owner_tgid = bpf_get_current_pid_tgid() >> 32;
    fresh.cgroup_id = bpf_get_current_cgroup_id();
    fresh.flags = SIGDRAIN_SOCK_OWNED;
    /* Already counted: a twin program ran first for this event (the old and the new daemon's programs both run
     * for a moment while the pinned links are handed over). Only TCP_CLOSE ends a listening socket's state. */
    struct sigdrain_sock_state *known = bpf_map_lookup_elem(&sock_states, &sk);
    if (known && known->direction == SIGDRAIN_DIR_LISTEN && (known->flags & SIGDRAIN_SOCK_COUNTED)) return 0;
    struct sigdrain_cgroup_stats *s = stats_of(fresh.cgroup_id);
    if (s) {
      __sync_fetch_and_add(&s->listening, 1);
      fresh.flags |= SIGDRAIN_SOCK_COUNTED;
    }
    if (bpf_map_update_elem(&sock_states, &sk, &fresh, BPF_ANY)) {
      if (s) __sync_fetch_and_add(&s->listening, -1);
      __sync_fetch_and_add(&counters[SIGDRAIN_SOCK_CNT_NEW_STATE_FAIL], 1);
    }
    return 0;
  }

  if (newstate == TCP_CLOSE_NR) {
    struct sigdrain_sock_state *st = bpf_map_lookup_elem(&sock_states, &sk);
    /* A socket judged not watched skips the closed_sockets insert (an LRU update, the costliest step of a close):
     * late data from a call that raced with the reset is judged again, as a socket without state, and ignored
     * again while its cgroup is not watched. Most sockets on a node are such, and each one closes. */
    if (!st || !(st->flags & SIGDRAIN_SOCK_IGNORED)) {
      __u8 closed = 1;
      bpf_map_update_elem(&closed_sockets, &sk, &closed, BPF_ANY);
    }
    if (!st) return 0;
    if (st->flags & (SIGDRAIN_SOCK_COUNTED | SIGDRAIN_SOCK_INFLIGHT | SIGDRAIN_SOCK_ADOPTED_COUNTED)) {
      struct sigdrain_cgroup_stats *s = bpf_map_lookup_elem(&cgroup_stats, &st->cgroup_id);
      if (s) {
        if (st->flags & SIGDRAIN_SOCK_COUNTED) {
          if (st->direction == SIGDRAIN_DIR_LISTEN)
            __sync_fetch_and_add(&s->listening, -1);
          else
            __sync_fetch_and_add(&s->open_inbound, -1);
        }
        if (st->flags & SIGDRAIN_SOCK_INFLIGHT) __sync_fetch_and_add(&s->inflight, -1);
        if (st->flags & SIGDRAIN_SOCK_ADOPTED_COUNTED) __sync_fetch_and_add(&s->adopted_open, -1);
      }
    }
    bpf_map_delete_elem(&sock_states, &sk);
  }
  return 0;
}

/* Process context of the receiver: `len` bytes were received on `sk` (a TCP socket). */
static __always_inline void on_data_received(__u64 sk, int len, int flags, bool cached) {
  if (len <= 0 || (flags & MSG_PEEK_FLAG)) return; /* a peek leaves the data queued: the real read counts */
  struct sigdrain_sock_state *st = state_for_data(sk, SIGDRAIN_DIR_INBOUND_GUESSED, cached);
  if (!st) return;
  take_ownership(st);
  if (!counts_as_inbound(st->direction) || !(st->flags & SIGDRAIN_SOCK_COUNTED)) return;
  struct sigdrain_cgroup_stats *s = bpf_map_lookup_elem(&cgroup_stats, &st->cgroup_id);
  if (!s) return;
  s->activity++;
  if (!(st->flags & SIGDRAIN_SOCK_INFLIGHT)) {
    st->flags |= SIGDRAIN_SOCK_INFLIGHT;
    __sync_fetch_and_add(&s->inflight, 1);
  }
}

/* Process context of the sender: `len` bytes were sent on `sk` (a TCP socket). */
static __always_inline void on_data_sent(__u64 sk, int len, bool cached) {
  if (len <= 0) return;
  struct sigdrain_sock_state *st = state_for_data(sk, SIGDRAIN_DIR_UNKNOWN, cached);
  if (!st) return;
  take_ownership(st);
  if (st->direction == SIGDRAIN_DIR_UNKNOWN) {
    /* Opened before sigdrain started and first seen sending: it may be finishing a request that was already
     * in flight, so it counts as activity of its cgroup (the quiet window waits for it). */
    struct sigdrain_cgroup_stats *s = stats_of(st->cgroup_id);
    if (s) s->activity++;
    return;
  }
  if (!(st->flags & SIGDRAIN_SOCK_INFLIGHT)) return;
  struct sigdrain_cgroup_stats *s = bpf_map_lookup_elem(&cgroup_stats, &st->cgroup_id);
  st->flags &= ~SIGDRAIN_SOCK_INFLIGHT;
  if (!s) return;
  s->activity++;
  __sync_fetch_and_add(&s->inflight, -1);
  __sync_fetch_and_add(&s->requests_completed, 1);
}

/* Request probe set "tracepoint" (Linux >= 6.3): every socket's send/receive, filtered to TCP here. */
SEC("tracepoint/sock/sock_recv_length")
int on_sock_recv_length(struct trace_event_raw_sock_msg_length *ctx) {
  if (is_tcp(ctx->family, ctx->protocol)) on_data_received((__u64)ctx->sk, ctx->ret, ctx->flags, true);
  return 0;
}

SEC("tracepoint/sock/sock_send_length")
int on_sock_send_length(struct trace_event_raw_sock_msg_length *ctx) {
  if (is_tcp(ctx->family, ctx->protocol)) on_data_sent((__u64)ctx->sk, ctx->ret, true);
  return 0;
}

/* Request probe set "fexit", for kernels without those tracepoints. Only TCP sockets (v4 and v6) reach these
 * functions. Not loaded unless user space asks ("?"): tracing programs need BTF trampolines, which a
 * lockdown=confidentiality kernel refuses. tcp_recvmsg lost its `nonblock` parameter in 5.19, so it has two
 * programs and user space loads the one matching the kernel's BTF. */
SEC("?fexit/tcp_sendmsg")
int BPF_PROG(on_tcp_sendmsg_exit, struct sock *sk, struct msghdr *msg, size_t size, int ret) {
  on_data_sent((__u64)sk, ret, false);
  return 0;
}

SEC("?fexit/tcp_recvmsg")
int BPF_PROG(on_tcp_recvmsg_exit, struct sock *sk, struct msghdr *msg, size_t len, int flags, int *addr_len,
             int ret) {
  on_data_received((__u64)sk, ret, flags, false);
  return 0;
}

SEC("?fexit/tcp_recvmsg")
int BPF_PROG(on_tcp_recvmsg_nonblock_exit, struct sock *sk, struct msghdr *msg, size_t len, int nonblock, int flags,
             int *addr_len, int ret) {
  on_data_received((__u64)sk, ret, flags, false);
  return 0;
}

char LICENSE[] SEC("license") = "GPL";

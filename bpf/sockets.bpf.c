// SPDX-License-Identifier: GPL-2.0
/* Sockets: per-connection state keyed by the socket's kernel address, and per-cgroup aggregates
 * (open inbound connections, requests in flight). Nothing per send/recv goes to user space; it reads
 * the aggregates. The raw tracepoint programs read the socket with bpf_probe_read_kernel (lockdown=integrity allows
 * it); the classic ones, their fallback, read only the tracepoint's record. */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_endian.h>
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
#define SLOT_BITS SIGDRAIN_SOCKET_SLOT_BITS /* ignored_sockets and unclaimed_connections: 8,192 slots each */

__u64 counters[SIGDRAIN_SOCK_CNT_MAX];

/* Set before load. False: a socket's data counts only while its owner's cgroup is in `watched_cgroups` (the daemon
 * and safe-stop name the containers they care about). The verdict is taken at the owner's first data and kept in
 * ignored_sockets (or, with the fexit probes, in the socket's state), so a send or receive on a socket of any other
 * cgroup costs one array read and leaves; it is taken again when user space has watched another cgroup since
 * (watch_generation moved on). */
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

/* The cgroups whose sockets count, each with its slot in cgroup_stats. User space adds a cgroup it watches (with a
 * slot it gives); with watch_all_cgroups the programs add every cgroup at its first counted socket. */
struct {
  __uint(type, BPF_MAP_TYPE_HASH);
  __uint(max_entries, SIGDRAIN_MAX_WATCHED_CGROUPS);
  __type(key, __u64);   /* cgroup v2 id */
  __type(value, __u32); /* its slot in cgroup_stats, never 0 */
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

/* Per watched cgroup, by slot: reached from a socket's state (stats_slot) with an array index, not a second hash
 * lookup on every counted send and receive. */
struct {
  __uint(type, BPF_MAP_TYPE_ARRAY);
  __uint(max_entries, SIGDRAIN_STATS_SLOTS);
  __type(key, __u32);
  __type(value, struct sigdrain_cgroup_stats);
} cgroup_stats SEC(".maps");

/* Connections established and not yet claimed by their owner's first send or receive: what the ESTABLISHED event
 * knew (the direction, the local port), one word a slot, direct-mapped like ignored_sockets below (the same slot and
 * tag; the word's low bits are port and direction). A map, not .bss: pinned with sock_states, so a connection
 * established while the daemon restarts keeps its direction. See `leave_unclaimed`. */
struct {
  __uint(type, BPF_MAP_TYPE_ARRAY);
  __uint(max_entries, 1 << SLOT_BITS);
  __type(key, __u32);
  __type(value, __u64);
} unclaimed_connections SEC(".maps");

static __always_inline int is_tcp(__u16 family, __u16 protocol) {
  return (family == AF_INET_NR || family == AF_INET6_NR) && protocol == IPPROTO_TCP_NR;
}

/* The cgroup's slot in cgroup_stats when it is watched (with watch_all_cgroups: once it has counted), else 0. */
static __always_inline __u32 watched_slot(__u64 cgroup_id) {
  __u32 *slot = bpf_map_lookup_elem(&watched_cgroups, &cgroup_id);
  return slot ? *slot : 0;
}

/* The counts in `slot` if they are `cgroup_id`'s: a slot given to another cgroup since is not touched. */
static __always_inline struct sigdrain_cgroup_stats *stats_in(__u32 slot, __u64 cgroup_id) {
  if (!slot) return NULL;
  struct sigdrain_cgroup_stats *s = bpf_map_lookup_elem(&cgroup_stats, &slot);
  return s && s->cgroup_id == cgroup_id ? s : NULL;
}

/* With watch_all_cgroups (sigdrain trace: its maps are its own, never pinned or shared), a cgroup's first counted
 * socket takes it a slot here (in process context: a listen, a first receive). Each CPU takes every
 * possible_cpus-th slot from its own count, with no atomic (5.10's verifier has no fetching one): tracepoint
 * programs do not nest on a CPU. An fexit program (kernels < 6.3) may be preempted on a preemptible kernel between
 * the read and the write of its CPU's count; two cgroups then share a slot and the one that wrote it last counts.
 * Slots are not given back: a trace that meets more cgroups than slots counts the first ones. */
const volatile __u32 possible_cpus = 1;

/* This CPU's count of slots taken (a per-CPU array: indexing .bss by CPU number trips older verifiers). */
struct {
  __uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
  __uint(max_entries, 1);
  __type(key, __u32);
  __type(value, __u32);
} stats_slots_taken SEC(".maps");

static __always_inline __u32 take_stats_slot(__u64 cgroup_id) {
  __u32 cpu = bpf_get_smp_processor_id(), zero = 0;
  if (cpu >= possible_cpus) return 0; /* unset: CPU 0 alone, never a shared slot */
  __u32 *taken = bpf_map_lookup_elem(&stats_slots_taken, &zero);
  if (!taken) return 0;
  __u64 wide = 1 + cpu + (__u64)*taken * possible_cpus;
  if (wide >= SIGDRAIN_STATS_SLOTS) return 0;
  __u32 slot = wide;
  struct sigdrain_cgroup_stats *s = bpf_map_lookup_elem(&cgroup_stats, &slot);
  if (!s) return 0;
  *taken += 1;
  s->cgroup_id = cgroup_id; /* before the slot is published */
  if (bpf_map_update_elem(&watched_cgroups, &cgroup_id, &slot, BPF_NOEXIST) == 0) return slot;
  s->cgroup_id = 0; /* another CPU published one first: its slot counts, this one stays unused */
  __u32 *published = bpf_map_lookup_elem(&watched_cgroups, &cgroup_id);
  return published ? *published : 0;
}

/* The cgroup's slot in cgroup_stats, 0 when its sockets do not count. */
static __always_inline __u32 stats_slot_of(__u64 cgroup_id) {
  __u32 slot = watched_slot(cgroup_id);
  if (slot || !watch_all_cgroups) return slot;
  slot = take_stats_slot(cgroup_id);
  if (!slot) __sync_fetch_and_add(&counters[SIGDRAIN_SOCK_CNT_NEW_CGROUP_FAIL], 1);
  return slot;
}

static __always_inline int counts_as_inbound(__u8 direction) {
  return direction == SIGDRAIN_DIR_INBOUND || direction == SIGDRAIN_DIR_INBOUND_GUESSED;
}

/* Process context: the current task owns the socket. Counts it in its cgroup the first time. `stats_slot`: the
 * current cgroup's slot when the caller has it already, else 0. */
static __always_inline void take_ownership(struct sigdrain_sock_state *st, __u32 stats_slot) {
  if (st->flags & SIGDRAIN_SOCK_OWNED) return;
  st->owner_tgid = bpf_get_current_pid_tgid() >> 32;
  st->cgroup_id = bpf_get_current_cgroup_id();
  st->flags |= SIGDRAIN_SOCK_OWNED;
  if (!counts_as_inbound(st->direction) && !(st->flags & SIGDRAIN_SOCK_ADOPTED)) return; /* an outbound one counts nothing */
  st->stats_slot = stats_slot ? stats_slot : stats_slot_of(st->cgroup_id);
  struct sigdrain_cgroup_stats *s = stats_in(st->stats_slot, st->cgroup_id);
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
  return watch_all_cgroups || watched_slot(cgroup_id) != 0;
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
 * The word: the socket's tag (sockets.h: the bits of its address's hash below the slot's, which name it exactly
 * within the slot), then the generation's low bits, whether the socket has a state, and a set bit, so no live slot
 * is 0 (empty).
 *
 * Only "ignored" is cached: a miss takes the full path. A hit holds while the generation holds; a watched cgroup
 * moves it on, and a socket then judged watched clears its slot. A socket at a reused address clears its slot at
 * the first state change of its new life (from CLOSE, or to LISTEN, SYN_SENT or SYN_RECV), before its first data.
 * The data path holds a reference to its socket, so a slot written by a call that raced with the socket's close
 * names a socket not freed before that call returns: its address's next life clears it. */
#define VERDICT_TAG_BITS (SIGDRAIN_SOCKET_HASH_BITS - SLOT_BITS)
#define VERDICT_TAG_SHIFT (64 - VERDICT_TAG_BITS)
#define VERDICT_GEN_BITS (VERDICT_TAG_SHIFT - 2)
#define VERDICT_STATELESS 2ULL /* judged without a state made: nothing in sock_states to undo at its close */
#define SLOT_VALID 1ULL
#define MASK_BITS(n) ((1ULL << (n)) - 1)

__u64 ignored_sockets[1 << SLOT_BITS];

struct socket_slot {
  __u32 index;
  __u64 tag; /* the socket's bits of a slot's word, in place */
};

static __always_inline struct socket_slot slot_of(__u64 sk) {
  __u64 hashed = sigdrain_socket_hash(sk);
  struct socket_slot slot = {
      .index = sigdrain_socket_slot(sk), /* the one the tests compute too */
      .tag = (hashed & MASK_BITS(VERDICT_TAG_BITS)) << VERDICT_TAG_SHIFT,
  };
  return slot;
}

static __always_inline bool slot_names(struct socket_slot slot, __u64 word) {
  return (word & SLOT_VALID) && (word & ~MASK_BITS(VERDICT_TAG_SHIFT)) == slot.tag;
}

static __always_inline __u64 verdict_word(struct socket_slot slot, __u32 generation, bool stateless) {
  return slot.tag | ((__u64)(generation & MASK_BITS(VERDICT_GEN_BITS)) << 2) | (stateless ? VERDICT_STATELESS : 0) |
         SLOT_VALID;
}

/* `sk` was judged ignored at the current generation; with `stateless`, also without a state made for it. */
static __always_inline int cached_ignored(__u64 sk, bool stateless) {
  struct socket_slot slot = slot_of(sk);
  __u64 word = *(volatile __u64 *)&ignored_sockets[slot.index];
  if (!stateless) word |= VERDICT_STATELESS;
  return word == verdict_word(slot, watch_generation(), true);
}

static __always_inline void cache_ignored(__u64 sk, __u32 generation, bool stateless) {
  struct socket_slot slot = slot_of(sk);
  *(volatile __u64 *)&ignored_sockets[slot.index] = verdict_word(slot, generation, stateless);
}

static __always_inline void forget_cached_verdict(__u64 sk) {
  struct socket_slot slot = slot_of(sk);
  if (slot_names(slot, *(volatile __u64 *)&ignored_sockets[slot.index]))
    *(volatile __u64 *)&ignored_sockets[slot.index] = 0;
}

/* unclaimed_connections: an established connection waits here for its owner's first send or receive, which judges
 * it in the owner's context: watched, it gets its state then, from this word; ignored, it never gets one. That keeps
 * an LRU insert (made in softirq, before anyone knows the owner) and the lookup and delete at its close off every
 * connection of a cgroup nobody watches, most on a node. A slot holding another connection (a collision) leaves the
 * state made at ESTABLISHED, as before. Slots are taken and given back with compare-and-swap: a connection's word is
 * never overwritten by another's (its direction would be lost, and it would count as one open before sigdrain). */
#define UNCLAIMED_PORT_SHIFT 3
#define UNCLAIMED_DIRECTION_SHIFT 1

static __always_inline __u64 *unclaimed_slot(struct socket_slot slot) {
  __u32 index = slot.index;
  return bpf_map_lookup_elem(&unclaimed_connections, &index);
}

/* ESTABLISHED: false when the slot holds another connection (the caller makes the state now). */
static __always_inline bool leave_unclaimed(__u64 sk, __u8 direction, __u16 local_port) {
  struct socket_slot slot = slot_of(sk);
  __u64 *word = unclaimed_slot(slot);
  if (!word) return false;
  __u64 mine = slot.tag | ((__u64)local_port << UNCLAIMED_PORT_SHIFT) |
               ((__u64)(direction & 3) << UNCLAIMED_DIRECTION_SHIFT) | SLOT_VALID;
  __u64 was = __sync_val_compare_and_swap(word, 0, mine);
  return was == 0 || was == mine; /* mine: a twin program left it (the old and the new daemon's, in a handover) */
}

/* The word `sk` left at ESTABLISHED, or 0; also how a new life or a close before any data forgets it. The slot is
 * given back; a caller racing with another CPU's first data on the same connection still gets the word (the two
 * then make the same state, the first insert wins). */
static __always_inline __u64 claim_unclaimed(__u64 sk) {
  struct socket_slot slot = slot_of(sk);
  __u64 *word = unclaimed_slot(slot);
  if (!word) return 0;
  __u64 seen = *(volatile __u64 *)word;
  if (!slot_names(slot, seen)) return 0;
  __sync_val_compare_and_swap(word, seen, 0);
  return seen;
}

/* Data's state for a socket without one: `fresh`, or the one another CPU's data on it made first. */
static __always_inline struct sigdrain_sock_state *new_state(__u64 sk, struct sigdrain_sock_state *fresh) {
  bpf_map_update_elem(&sock_states, &sk, fresh, BPF_NOEXIST); /* EEXIST: another CPU won */
  struct sigdrain_sock_state *st = bpf_map_lookup_elem(&sock_states, &sk);
  if (!st) __sync_fetch_and_add(&counters[SIGDRAIN_SOCK_CNT_NEW_STATE_FAIL], 1);
  return st;
}

/* The owner's first data on a connection it had not claimed: judged now, in the owner's context. A state already
 * there (another CPU's first data on it won the insert) is the one used. */
static __always_inline struct sigdrain_sock_state *claimed_state(__u64 sk, __u64 unclaimed, __u32 *stats_slot) {
  __u32 generation = watch_generation(); /* read before the map: a cgroup added meanwhile moves it on */
  *stats_slot = watched_slot(bpf_get_current_cgroup_id()); /* only called with some cgroups not watched */
  if (!*stats_slot) {
    cache_ignored(sk, generation, true);
    return NULL;
  }
  struct sigdrain_sock_state fresh = {
      .local_port = (unclaimed >> UNCLAIMED_PORT_SHIFT) & 0xffff,
      .direction = (unclaimed >> UNCLAIMED_DIRECTION_SHIFT) & 3,
  };
  return new_state(sk, &fresh);
}

/* `cached`: use the two direct-mapped tables (with some cgroups not watched). The fexit programs cannot: their `sk`
 * is a typed pointer, which the verifier keeps from the tables' arithmetic, so on kernels without the sock_*_length
 * tracepoints (< 6.3) every call takes the state lookup. */
static __always_inline struct sigdrain_sock_state *state_for_data(__u64 sk, __u8 direction_if_new, bool cached,
                                                                  __u32 *stats_slot) {
  cached = cached && !watch_all_cgroups;
  if (cached) {
    if (cached_ignored(sk, false)) return NULL;
    __u64 unclaimed = claim_unclaimed(sk);
    if (unclaimed) return claimed_state(sk, unclaimed, stats_slot);
  }
  struct sigdrain_sock_state *st = bpf_map_lookup_elem(&sock_states, &sk);
  if (st) {
    int was_ignored = st->flags & SIGDRAIN_SOCK_IGNORED;
    if (socket_watched(st)) {
      if (cached && was_ignored) forget_cached_verdict(sk); /* its slot's generation must not match after a wrap */
      return st;
    }
    if (cached) cache_ignored(sk, st->watch_generation, false);
    return NULL;
  }
  if (bpf_map_lookup_elem(&closed_sockets, &sk)) return NULL; /* the call returned after its socket closed */
  if (cached) {
    /* Opened before sigdrain started (or its data raced with its close): judged before a state is made, so one of a
     * cgroup nobody watches gets none. */
    __u32 generation = watch_generation();
    if (!cgroup_watched(bpf_get_current_cgroup_id())) {
      cache_ignored(sk, generation, true);
      return NULL;
    }
    forget_cached_verdict(sk); /* judged ignored at an older generation: must not match after a wrap */
  }
  struct sigdrain_sock_state fresh = {.direction = direction_if_new, .flags = SIGDRAIN_SOCK_ADOPTED};
  st = new_state(sk, &fresh);
  return st && socket_watched(st) ? st : NULL;
}

/* One TCP state change: what both programs on sock:inet_sock_set_state hand on_state_change. */
struct state_change {
  __u64 sk;
  int oldstate, newstate;
  __u16 sport; /* host byte order; read only for the changes that record it (ESTABLISHED, LISTEN) */
};

/* A new life at a socket's address (a socket made, reused, or accepted): nothing the tables hold of an earlier one
 * holds any longer. */
static __always_inline bool new_life(int oldstate, int newstate) {
  return oldstate == TCP_CLOSE_NR || newstate == TCP_LISTEN_NR || newstate == TCP_SYN_SENT_NR ||
         newstate == TCP_SYN_RECV_NR;
}

/* The changes on_state_change acts on; the others (FIN_WAIT1, CLOSE_WAIT and such, half of a connection's ten) it
 * leaves at once. The raw tracepoint program reads nothing of the socket for those. */
static __always_inline bool state_change_matters(int oldstate, int newstate, bool tables) {
  if (newstate == TCP_ESTABLISHED_NR) return oldstate == TCP_SYN_RECV_NR || oldstate == TCP_SYN_SENT_NR;
  if (newstate == TCP_LISTEN_NR || newstate == TCP_CLOSE_NR) return true;
  return tables && new_life(oldstate, newstate);
}

/* A TCP socket's state change (the caller checked the protocol). `tables`: the data programs use the two
 * direct-mapped tables, so a connection's state waits for its owner's first data (unclaimed_connections) and a
 * socket judged ignored may have none. */
static __always_inline int on_state_change(const struct state_change *c, bool tables) {
  tables = tables && !watch_all_cgroups;
  __u64 sk = c->sk;
  int oldstate = c->oldstate, newstate = c->newstate;
  if (tables && new_life(oldstate, newstate)) {
    forget_cached_verdict(sk);
    claim_unclaimed(sk);
  }

  if (newstate == TCP_ESTABLISHED_NR && (oldstate == TCP_SYN_RECV_NR || oldstate == TCP_SYN_SENT_NR)) {
    /* Often softirq: the current task is not the owner, so only the direction is recorded here. */
    __u8 direction = oldstate == TCP_SYN_RECV_NR ? SIGDRAIN_DIR_INBOUND : SIGDRAIN_DIR_OUTBOUND;
    if (tables && leave_unclaimed(sk, direction, c->sport)) return 0;
    struct sigdrain_sock_state fresh = {.local_port = c->sport, .direction = direction};
    if (bpf_map_update_elem(&sock_states, &sk, &fresh, BPF_ANY))
      __sync_fetch_and_add(&counters[SIGDRAIN_SOCK_CNT_NEW_STATE_FAIL], 1);
    return 0;
  }

  if (newstate == TCP_LISTEN_NR) {
    /* listen() runs in the owner's process context. */
    struct sigdrain_sock_state fresh = {.local_port = c->sport, .direction = SIGDRAIN_DIR_LISTEN};
    fresh.owner_tgid = bpf_get_current_pid_tgid() >> 32;
    fresh.cgroup_id = bpf_get_current_cgroup_id();
    fresh.flags = SIGDRAIN_SOCK_OWNED;
    /* Already counted: a twin program ran first for this event (the old and the new daemon's programs both run
     * for a moment while the pinned links are handed over). Only TCP_CLOSE ends a listening socket's state. */
    struct sigdrain_sock_state *known = bpf_map_lookup_elem(&sock_states, &sk);
    if (known && known->direction == SIGDRAIN_DIR_LISTEN && (known->flags & SIGDRAIN_SOCK_COUNTED)) return 0;
    /* Counted in a watched cgroup only: then cgroup_stats holds just the cgroups user space watches, and drops
     * when they are gone. A listen anywhere else would add an entry nobody reads or removes, and the listening
     * cgroups of a node's lifetime (its pods, its jobs) would fill the map: a container watched after that would
     * get no counts, and its drain would see nothing in flight. The state is kept: it names the listener. */
    fresh.stats_slot = stats_slot_of(fresh.cgroup_id);
    struct sigdrain_cgroup_stats *s = stats_in(fresh.stats_slot, fresh.cgroup_id);
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
    if (tables) {
      /* Judged ignored and never given a state: nothing to undo, and late data meets the same slot. */
      if (cached_ignored(sk, true)) return 0;
      claim_unclaimed(sk); /* closed before its first data */
    }
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
      struct sigdrain_cgroup_stats *s = stats_in(st->stats_slot, st->cgroup_id);
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

static __always_inline int on_state_event(struct trace_event_raw_inet_sock_set_state *ctx, bool tables) {
  if (!is_tcp(ctx->family, ctx->protocol)) return 0;
  struct state_change c = {.sk = (__u64)ctx->skaddr, .oldstate = ctx->oldstate, .newstate = ctx->newstate,
                           .sport = ctx->sport};
  return on_state_change(&c, tables);
}

/* With the tracepoint data programs (Linux >= 6.3), where the raw tracepoint programs below do not load. */
SEC("?tracepoint/sock/inet_sock_set_state")
int on_inet_sock_set_state(struct trace_event_raw_inet_sock_set_state *ctx) {
  return on_state_event(ctx, true);
}

/* The same as a raw tracepoint program, preferred with the raw data programs: a classic tracepoint builds its whole
 * record (both addresses in both families, ports, protocol) for every state change of every TCP socket on the node
 * before any program runs; a raw one gets the kernel's arguments (sk, oldstate, newstate) and reads only what the
 * change needs. Measured in instructions (bench/instructions.py, empty programs on the three socket events): a new
 * connection per request costs nginx +2.7 % with classic programs, +0.5 % with raw ones. Reading the socket takes
 * bpf_probe_read_kernel: where a kernel refuses it to raw tracepoint programs, user space loads the classic ones. */
SEC("?raw_tp/inet_sock_set_state")
int BPF_PROG(on_inet_sock_set_state_raw, const struct sock *sk, int oldstate, int newstate) {
  const bool tables = !watch_all_cgroups;
  if (!state_change_matters(oldstate, newstate, tables)) return 0;
  if (tables) {
    /* What needs no read of the socket (a read is a helper call here, most of such a program's cost). A new life at
     * this address, whatever the protocol: what the tables hold of the address's earlier TCP socket is stale. */
    if (new_life(oldstate, newstate) && newstate != TCP_LISTEN_NR) {
      forget_cached_verdict((__u64)sk);
      claim_unclaimed((__u64)sk);
      return 0;
    }
    /* Judged ignored without a state (only a TCP socket is): its close has nothing to undo. */
    if (newstate == TCP_CLOSE_NR && cached_ignored((__u64)sk, true)) return 0;
  }
  /* The TCP and SCTP code (and DCCP's accept) call this tracepoint; only TCP counts. A TCP socket is always of
   * AF_INET or AF_INET6, so the protocol alone says. */
  if (BPF_CORE_READ(sk, sk_protocol) != IPPROTO_TCP_NR) return 0;
  struct state_change c = {.sk = (__u64)sk, .oldstate = oldstate, .newstate = newstate};
  if (newstate == TCP_ESTABLISHED_NR || newstate == TCP_LISTEN_NR)
    c.sport = bpf_ntohs(BPF_CORE_READ((const struct inet_sock *)sk, inet_sport));
  return on_state_change(&c, true);
}

/* With the fexit data programs, or none: every connection gets its state when established. A program of its own,
 * loaded instead of the ones above, because the 5.10 verifier refuses the tables' compare-and-swap even where it is
 * never reached. */
SEC("?tracepoint/sock/inet_sock_set_state")
int on_inet_sock_set_state_eager(struct trace_event_raw_inet_sock_set_state *ctx) {
  return on_state_event(ctx, false);
}

/* Process context of the receiver: `len` bytes were received on `sk` (a TCP socket). */
static __always_inline void on_data_received(__u64 sk, int len, int flags, bool cached) {
  if (len <= 0 || (flags & MSG_PEEK_FLAG)) return; /* a peek leaves the data queued: the real read counts */
  __u32 stats_slot = 0;
  struct sigdrain_sock_state *st = state_for_data(sk, SIGDRAIN_DIR_INBOUND_GUESSED, cached, &stats_slot);
  if (!st) return;
  take_ownership(st, stats_slot);
  if (!counts_as_inbound(st->direction) || !(st->flags & SIGDRAIN_SOCK_COUNTED)) return;
  struct sigdrain_cgroup_stats *s = stats_in(st->stats_slot, st->cgroup_id);
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
  __u32 stats_slot = 0;
  struct sigdrain_sock_state *st = state_for_data(sk, SIGDRAIN_DIR_UNKNOWN, cached, &stats_slot);
  if (!st) return;
  take_ownership(st, stats_slot);
  if (st->direction == SIGDRAIN_DIR_UNKNOWN) {
    /* Opened before sigdrain started and first seen sending: it may be finishing a request that was already
     * in flight, so it counts as activity of its cgroup (the quiet window waits for it). */
    struct sigdrain_cgroup_stats *s = stats_in(st->stats_slot, st->cgroup_id);
    if (s) s->activity++;
    return;
  }
  if (!(st->flags & SIGDRAIN_SOCK_INFLIGHT)) return;
  struct sigdrain_cgroup_stats *s = stats_in(st->stats_slot, st->cgroup_id);
  st->flags &= ~SIGDRAIN_SOCK_INFLIGHT;
  if (!s) return;
  s->activity++;
  __sync_fetch_and_add(&s->inflight, -1);
  __sync_fetch_and_add(&s->requests_completed, 1);
}

/* Request probe set "tracepoint" (Linux >= 6.3): every socket's send/receive, filtered to TCP here. Where the raw
 * programs below do not load. */
SEC("?tracepoint/sock/sock_recv_length")
int on_sock_recv_length(struct trace_event_raw_sock_msg_length *ctx) {
  if (is_tcp(ctx->family, ctx->protocol)) on_data_received((__u64)ctx->sk, ctx->ret, ctx->flags, true);
  return 0;
}

SEC("?tracepoint/sock/sock_send_length")
int on_sock_send_length(struct trace_event_raw_sock_msg_length *ctx) {
  if (is_tcp(ctx->family, ctx->protocol)) on_data_sent((__u64)ctx->sk, ctx->ret, true);
  return 0;
}

/* The same two as raw tracepoint programs, loaded with the raw state change program (see there). These tracepoints
 * fire for every socket's send and receive (UDP, Unix, netlink too); the classic ones build a record with the
 * socket's family and protocol first. Here the two tables answer first, with no read of the socket: a socket they
 * name ignored, or a connection waiting for its first data, is a TCP one (only a TCP socket gets there); any other
 * reads its protocol, and its family if that is TCP's number. */
static __always_inline bool raw_data_counts(const struct sock *sk) {
  if (!watch_all_cgroups) {
    if (cached_ignored((__u64)sk, false)) return false;
    struct socket_slot slot = slot_of((__u64)sk);
    __u64 *waiting = unclaimed_slot(slot);
    if (waiting && slot_names(slot, *(volatile __u64 *)waiting)) return true;
  }
  if (BPF_CORE_READ(sk, sk_protocol) != IPPROTO_TCP_NR) return false; /* a Unix socket's is 0 */
  __u16 family = BPF_CORE_READ(sk, __sk_common.skc_family); /* netlink's NETLINK_XFRM is 6 too */
  return family == AF_INET_NR || family == AF_INET6_NR;
}

SEC("?raw_tp/sock_recv_length")
int BPF_PROG(on_sock_recv_length_raw, const struct sock *sk, int ret, int flags) {
  if (ret <= 0 || (flags & MSG_PEEK_FLAG)) return 0;
  if (raw_data_counts(sk)) on_data_received((__u64)sk, ret, flags, true);
  return 0;
}

SEC("?raw_tp/sock_send_length")
int BPF_PROG(on_sock_send_length_raw, const struct sock *sk, int ret, int flags) {
  if (ret <= 0) return 0;
  if (raw_data_counts(sk)) on_data_sent((__u64)sk, ret, true);
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

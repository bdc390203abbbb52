/* Per-socket state and per-cgroup aggregates kept by bpf/sockets.bpf.c and read by user space.
 * ABI: fixed-width types only; checked with static_assert in userspace/observer/bpf_events.hpp.
 *
 * "Request in flight": an inbound TCP connection whose last receive of data is newer than its last send
 * of data. A server that has read a request and not yet written (any of) its response holds one request
 * in flight on that connection; an idle keep-alive connection holds none. */
#ifndef SIGDRAIN_BPF_SOCKETS_H
#define SIGDRAIN_BPF_SOCKETS_H

enum sigdrain_sock_direction {
  SIGDRAIN_DIR_UNKNOWN = 0,
  SIGDRAIN_DIR_INBOUND = 1,  /* SYN_RECV -> ESTABLISHED: accepted from a listener */
  SIGDRAIN_DIR_OUTBOUND = 2, /* SYN_SENT -> ESTABLISHED: connect()ed */
  SIGDRAIN_DIR_LISTEN = 3,   /* a listening socket */
  /* Existed before sigdrain started; the first data seen on it was received, as on a server's
   * connection, so it is counted as inbound. Errs on the side of a longer drain, never a cut request. */
  SIGDRAIN_DIR_INBOUND_GUESSED = 4,
};

enum sigdrain_sock_flags {
  SIGDRAIN_SOCK_OWNED = 1,    /* owner_tgid/cgroup_id were taken in process context */
  SIGDRAIN_SOCK_COUNTED = 2,  /* counted in its cgroup's open_inbound or listening */
  SIGDRAIN_SOCK_INFLIGHT = 4, /* counted in its cgroup's inflight */
  SIGDRAIN_SOCK_ADOPTED = 8,  /* first seen by its data: it was open before sigdrain started */
  SIGDRAIN_SOCK_ADOPTED_COUNTED = 16, /* counted in its cgroup's adopted_open */
  /* Its owner's cgroup was not watched (as of watch_generation): its data is not counted. cgroup_id and
   * owner_tgid say who owned it then; nothing of it is counted in cgroup_stats. */
  SIGDRAIN_SOCK_IGNORED = 32,
};

/* Only what user space or a later event reads: every field written per send/recv is paid by every socket's data. */
struct sigdrain_sock_state {
  __u64 cgroup_id;
  __u32 owner_tgid;
  __u16 local_port; /* host byte order; 0 when not seen on a state change */
  __u8 direction;   /* enum sigdrain_sock_direction */
  __u8 flags;       /* enum sigdrain_sock_flags */
  __u32 watch_generation; /* with SIGDRAIN_SOCK_IGNORED: the watch_generation it was judged at */
  __u32 stats_slot;       /* its cgroup's slot in cgroup_stats, taken with ownership; 0: none (not watched) */
};

/* cgroup_stats is an array of these, one slot a watched cgroup (watched_cgroups maps the cgroup to its slot), so
 * a counted send or receive reaches its cgroup's counts from its socket's state with no second hash lookup. */
struct sigdrain_cgroup_stats {
  /* The cgroup this slot counts for; 0: free. A socket counts only into a slot that names its own cgroup, so a
   * slot given to another cgroup (its old cgroup gone) takes nothing from that cgroup's late closes. */
  __u64 cgroup_id;
  __s64 open_inbound; /* inbound connections that are owned and not closed */
  __s64 inflight;     /* requests in flight (see above) */
  __s64 listening;    /* listening sockets */
  __u64 requests_completed; /* in flight -> idle by a send */
  /* Moves on with each data on an inbound connection, or sent on one of unknown direction. A count, not a time:
   * bpf_ktime_get_ns() was the costliest helper of every counted send and receive (~70 ns a call here), and user
   * space samples a draining container every few ms anyway (ActivityClock in userspace/policy/drain.hpp). Plain
   * increments: one lost to a race still moves it. */
  __u64 activity;
  /* Connections first seen by their data and still open. User space compares this with the connections it
   * found open when it started, to know when every one of those has been seen. */
  __s64 adopted_open;
};

/* The layout of the maps above and of bpf/sockets.bpf.c's maps, as pinned by the daemon: bump it whenever a
 * struct, a map's key/value/size or the meaning of a flag changes. A daemon replaces pins of another layout. */
/* 2: no per-socket times or byte counts, cgroup activity a count. 3: unclaimed_connections (a connection's state
 * made at its owner's first data, and only for a watched cgroup). 4: cgroup_stats an array of slots, named by
 * watched_cgroups' values and the sockets' stats_slot. */
#define SIGDRAIN_SOCKETS_LAYOUT 4

/* bpf/sockets.bpf.c's ignored_sockets and unclaimed_connections are tables of one-word slots, direct-mapped by the
 * socket's kernel address: 8-byte aligned, with its top 7 bits all set on every 64-bit kernel, it carries 54 bits,
 * and an odd multiplier is a bijection on them. The hash's top SIGDRAIN_SOCKET_SLOT_BITS pick the slot; its other
 * bits name the socket exactly within it. */
#define SIGDRAIN_SOCKET_SLOT_BITS 13
#define SIGDRAIN_SOCKET_HASH_BITS 54

static inline __u64 sigdrain_socket_hash(__u64 sk) {
  return ((sk >> 3) * 0x9E3779B97F4A7C15ULL /* odd: 2^64 / golden ratio */) &
         ((1ULL << SIGDRAIN_SOCKET_HASH_BITS) - 1);
}

static inline __u32 sigdrain_socket_slot(__u64 sk) {
  return (__u32)(sigdrain_socket_hash(sk) >> (SIGDRAIN_SOCKET_HASH_BITS - SIGDRAIN_SOCKET_SLOT_BITS));
}

/* Entries of watched_cgroups: the containers one daemon can watch on a node. cgroup_stats has one slot more:
 * slot 0 is never given (a state's stats_slot 0 means none). */
#define SIGDRAIN_MAX_WATCHED_CGROUPS 16384
#define SIGDRAIN_STATS_SLOTS (SIGDRAIN_MAX_WATCHED_CGROUPS + 1)

enum sigdrain_sock_counter {
  SIGDRAIN_SOCK_CNT_NEW_STATE_FAIL = 0, /* socket map full (LRU could not insert) */
  SIGDRAIN_SOCK_CNT_NEW_CGROUP_FAIL = 1, /* cgroup map full */
  SIGDRAIN_SOCK_CNT_MAX = 2,
};

#endif

/* Shared by bpf/lsm_hold.bpf.c and userspace/hold/lsm_hold.cpp. This header is ABI: fixed-width types only,
 * explicit enum values; userspace/hold/lsm_hold.cpp checks size and offsets with static_assert. */
#ifndef SIGDRAIN_BPF_LSM_HOLD_H
#define SIGDRAIN_BPF_LSM_HOLD_H

#ifndef SIGDRAIN_COMM_LEN
#define SIGDRAIN_COMM_LEN 16
#endif

/* Value of the guarded_targets map, keyed by the target's tgid. */
struct sigdrain_lsm_target {
  /* The process's start time as /proc/PID/stat field 22 shows it (clock ticks since boot); 0 skips the check.
   * A new process that reuses a guarded pid does not match and is never protected. */
  __u64 start_ticks;
};

/* One refused signal, in the sender's context. */
struct sigdrain_refused_event {
  __u64 time_ns; /* bpf_ktime_get_ns(): CLOCK_MONOTONIC */
  __u32 sender_tgid;
  __u32 sender_tid;
  __u32 target_tgid;
  __u32 target_tid; /* the task the signal was sent to (a thread of target_tgid) */
  __u32 sig;
  __u32 pad;
  char sender_comm[SIGDRAIN_COMM_LEN];
};

/* Counters in the BPF object's .bss, read by user space. */
enum sigdrain_lsm_counter {
  SIGDRAIN_LSM_CNT_REFUSED = 0,
  SIGDRAIN_LSM_CNT_RINGBUF_DROPS = 1, /* let through: the ring buffer was full, the daemon could not be told */
  SIGDRAIN_LSM_CNT_LEASE_EXPIRED = 2, /* let through to a guarded process because the daemon's lease had expired */
  SIGDRAIN_LSM_CNT_MAX = 3,
};

#endif

/* Per-process signal dispositions and per-thread blocked masks, kept by bpf/dispositions.bpf.c and read by
 * bpf/signals.bpf.c at signal_generate (so a `signal` record says what the target did with the signal at that
 * moment). ABI shared with user space, which seeds the maps from /proc once at start-up; checked in
 * userspace/observer/bpf_events.hpp. */
#ifndef SIGDRAIN_BPF_DISPOSITIONS_H
#define SIGDRAIN_BPF_DISPOSITIONS_H

/* The disposition a signal event carries (sigdrain_signal_event.disposition). */
enum sigdrain_disposition {
  SIGDRAIN_DISP_UNTRACKED = 0, /* dispositions are not tracked (the daemon) */
  SIGDRAIN_DISP_UNKNOWN = 1,   /* tracked, but nothing is known for this process and signal */
  SIGDRAIN_DISP_DEFAULT = 2,
  SIGDRAIN_DISP_IGNORE = 3,
  SIGDRAIN_DISP_HANDLER = 4,
  SIGDRAIN_DISP_BLOCKED = 5,       /* default action, blocked by the thread it goes to: it stays pending */
  SIGDRAIN_DISP_BLOCKED_MAYBE = 6, /* default action, to a multi-threaded process whose main thread blocks it */
};

/* Keyed by tgid: the process's sigactions (shared by its threads). Bit n-1 is signal n. */
struct sigdrain_process_actions {
  __u64 caught;  /* a handler is installed */
  __u64 ignored; /* SIG_IGN */
  __u64 known;   /* signals whose disposition is known: seeded from /proc, or seen in rt_sigaction/signal_deliver */
  __u32 threads; /* live threads, for a process-directed signal's "blocked" */
  __u32 pad;
};

/* Keyed by tid. */
struct sigdrain_thread_state {
  __u32 tgid;
  __u32 mask_known; /* 0: blocked below is not known (the thread predates the trace and was not seeded) */
  __u64 blocked;    /* as set by rt_sigprocmask (a handler's or sigsuspend's temporary mask is not tracked) */
  /* The thread's cgroup as last seen (clone, exec, rt_sigaction, rt_sigprocmask), 0 when not seen: names the
   * container of a target that is gone before user space reads its /proc. */
  __u64 cgroup;
};

#define SIGDRAIN_MAX_TRACKED_PROCESSES 32768
#define SIGDRAIN_MAX_TRACKED_THREADS 65536

#endif

/* Events shared by bpf/signals.bpf.c and user space. This header is ABI: fixed-width types only,
 * explicit enum values; userspace/observer/bpf_events.hpp checks size and offsets with static_assert. */
#ifndef SIGDRAIN_BPF_SIGNALS_H
#define SIGDRAIN_BPF_SIGNALS_H

#define SIGDRAIN_COMM_LEN 16

/* Entries of exit_watch: the containers' inits one daemon reports exits of (as many as it can watch cgroups). */
#define SIGDRAIN_MAX_EXIT_WATCH 16384

enum sigdrain_event_kind {
  SIGDRAIN_EV_SIGNAL = 1,  /* signal:signal_generate, in the sender's context */
  SIGDRAIN_EV_DELIVER = 2, /* signal:signal_deliver, in the receiving thread's context */
  SIGDRAIN_EV_EXIT = 3,    /* sched:sched_process_exit of the last thread of a process */
};

/* signal_generate's `result` (kernel enum trace_signal_result). */
enum sigdrain_signal_result {
  SIGDRAIN_RESULT_DELIVERED = 0,
  SIGDRAIN_RESULT_IGNORED = 1,
  SIGDRAIN_RESULT_ALREADY_PENDING = 2,
  SIGDRAIN_RESULT_OVERFLOW_FAIL = 3,
  SIGDRAIN_RESULT_LOSE_INFO = 4,
};

enum sigdrain_handler_class {
  SIGDRAIN_HANDLER_DEFAULT = 0, /* SIG_DFL */
  SIGDRAIN_HANDLER_IGNORE = 1,  /* SIG_IGN */
  SIGDRAIN_HANDLER_CATCH = 2,   /* a user handler */
};

enum sigdrain_exit_cause {
  SIGDRAIN_EXIT_UNKNOWN = 0,
  SIGDRAIN_EXIT_CODE = 1,   /* exit_group()/exit() with a status */
  SIGDRAIN_EXIT_SIGNAL = 2, /* a fatal signal with the default action */
};

struct sigdrain_signal_event {
  __u32 kind; /* SIGDRAIN_EV_SIGNAL */
  __u32 sig;
  __u64 time_ns; /* bpf_ktime_get_ns(): CLOCK_MONOTONIC */
  __u64 sender_cgroup;
  __u32 sender_tgid;
  __u32 sender_tid;
  __u32 target_pid; /* the task the signal was sent to (a thread id in the initial pid namespace) */
  __s32 code;       /* si_code: SI_USER, SI_TKILL, SI_KERNEL, ... */
  __s32 err;
  __u32 group; /* 1: to the whole thread group */
  __u32 result; /* enum sigdrain_signal_result */
  __u32 disposition; /* enum sigdrain_disposition (bpf/dispositions.h), as of generation */
  char sender_comm[SIGDRAIN_COMM_LEN];
  char target_comm[SIGDRAIN_COMM_LEN];
  __u64 target_cgroup; /* from the disposition record (trace only); 0: not known */
  __u32 target_tgid;   /* the process of target_pid, from the same record; 0: not known */
  __u32 pad;
};

struct sigdrain_deliver_event {
  __u32 kind; /* SIGDRAIN_EV_DELIVER */
  __u32 sig;
  __u64 time_ns;
  __u64 cgroup;
  __u32 tgid;
  __u32 tid;
  __s32 code;
  __u32 handler_class; /* enum sigdrain_handler_class */
  __u64 sa_flags;
  char comm[SIGDRAIN_COMM_LEN];
};

struct sigdrain_exit_event {
  __u32 kind; /* SIGDRAIN_EV_EXIT */
  __u32 tgid;
  __u64 time_ns;
  __u64 cgroup;
  __u32 cause;       /* enum sigdrain_exit_cause */
  __u32 cause_value; /* exit code (0..255) or signal number */
  char comm[SIGDRAIN_COMM_LEN];
};

/* Counters in the BPF object's .bss, read by user space. Only what user space acts on: a count per event would be
 * an atomic add on one shared cache line in every signal of a storm, on every CPU. */
enum sigdrain_signal_counter {
  SIGDRAIN_CNT_RINGBUF_DROPS = 0, /* bpf_ringbuf_reserve failed: an event was lost */
  SIGDRAIN_CNT_MAX = 1,
};

#endif

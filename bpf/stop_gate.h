/* Shared by bpf/stop_gate.bpf.c and userspace/hold/stop_gate.cpp. This header is ABI: fixed-width types only,
 * explicit enum values; userspace/hold/stop_gate.cpp checks sizes and offsets with static_assert. */
#ifndef SIGDRAIN_BPF_STOP_GATE_H
#define SIGDRAIN_BPF_STOP_GATE_H

#ifndef SIGDRAIN_COMM_LEN
#define SIGDRAIN_COMM_LEN 16
#endif

/* A container id as the runtime names it (podman, Docker and Kubernetes use 64 hex digits), NUL-padded. Longer
 * ids are never gated. */
#define SIGDRAIN_GATE_ID_LEN 128
/* How much of a runtime's argv the program reads; a longer argv is never gated. */
#define SIGDRAIN_GATE_ARGV_LEN 1024

/* The runtime argv grammar's one list of global options that take a separate value (`--root /run/runc`; runc's and
 * crun's): bpf/stop_gate.bpf.c and userspace/hold/runtime_kill.cpp both expand it. */
#define SIGDRAIN_GATE_VALUE_OPTIONS(X) \
  X("--root") X("--log") X("--log-format") X("--log-level") X("--criu") X("--rootless") X("--cgroup-manager")

/* Key of guarded_ids: the id of a guarded container. */
struct sigdrain_gate_id {
  char id[SIGDRAIN_GATE_ID_LEN];
};

/* The basename of a runtime binary (its comm right after exec), NUL-padded; runtime_comms holds up to this many. */
#define SIGDRAIN_GATE_MAX_RUNTIMES 8
struct sigdrain_gate_comm {
  char comm[SIGDRAIN_COMM_LEN];
};

/* Value of the gated map (keyed by the stopped runtime process's tgid), and the ring-buffer event. */
struct sigdrain_gated {
  __u64 stopped_ns;   /* bpf_ktime_get_ns() when it was stopped: CLOCK_MONOTONIC */
  __u64 start_ns;     /* task->start_boottime: identifies the process beyond its pid */
  __u32 tgid;
  __u32 signo;        /* the signal its argv asks for (SIGTERM by default) */
  struct sigdrain_gate_id container;
};

/* Counters in the BPF object's .bss, read by user space. */
enum sigdrain_gate_counter {
  SIGDRAIN_GATE_CNT_STOPPED = 0,
  SIGDRAIN_GATE_CNT_RINGBUF_DROPS = 1, /* passed: the daemon could not be told */
  SIGDRAIN_GATE_CNT_MAP_FULL = 2,      /* passed: the gated map was full, the watchdog could not see it */
  SIGDRAIN_GATE_CNT_ARGV_UNREAD = 3,   /* a runtime's argv was too long or could not be read */
  SIGDRAIN_GATE_CNT_NOT_A_KILL = 4,    /* a runtime's argv was not a kill of a guarded container with a held signal */
  SIGDRAIN_GATE_CNT_SEND_FAILED = 5,   /* bpf_send_signal refused */
  SIGDRAIN_GATE_CNT_MAX = 6,
};

#endif

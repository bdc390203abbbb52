// SPDX-License-Identifier: GPL-2.0
/* Signals: who sent what to whom, how it was delivered, and how the process ended.
 * Tracepoint context fields only (no bpf_probe_read_kernel), so it loads under lockdown. */
#include "vmlinux.h"
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_helpers.h>

#include "disposition_maps.bpf.h"
#include "process_exit.bpf.h"
#include "signals.h"
#include "signal_mask.h"

#define SIGKILL_NR 9
#define SIGCHLD_NR 17
#define SIGCONT_NR 18
#define SIGSTOP_NR 19
#define SIGTSTP_NR 20
#define SIGTTIN_NR 21
#define SIGTTOU_NR 22
#define SIGURG_NR 23
#define SIGWINCH_NR 28
#define SIG_DFL_VALUE 0
/* In a generated_fatal value, beside the signal number: trace knew the signal's disposition was the default and
 * unblocked, so its generation certainly started the group exit (complete_signal). */
#define GROUP_EXIT_STARTED 0x100
#define GENERATED_SIGNAL(v) ((v) & 0xff)
#define SIG_IGN_VALUE 1

/* Set before load. Bit n-1 set: report signal n (the kernel's sigset convention). 0 reports every signal. */
const volatile __u64 signal_mask = 0;
/* Report signal_deliver events (the exit cause is tracked either way). */
const volatile __u32 report_deliver = 1;
/* Read the disposition maps kept by dispositions.bpf.c into each signal event (trace); 0: never (the daemon). */
const volatile __u32 snapshot_dispositions = 0;
/* 1: an event for every process exit (trace, safe-stop). 0 (the daemon): only for the tgids in exit_watch, its
 * containers' inits; any other exit on the node costs one lookup and wakes nobody. */
const volatile __u32 report_all_exits = 1;

__u64 counters[SIGDRAIN_CNT_MAX];

struct {
  __uint(type, BPF_MAP_TYPE_RINGBUF);
  __uint(max_entries, 1 << 20);
} events SEC(".maps");

/* cpu_events' template: user space gives the rings (their size is not part of the match). Without per_cpu_rings
 * libbpf makes it at load and closes it: 64 KiB, a multiple of 4 and 64 KiB pages. */
struct events_ring {
  __uint(type, BPF_MAP_TYPE_RINGBUF);
  __uint(max_entries, 1 << 16);
};

/* With per_cpu_rings (trace): a ring buffer per CPU, indexed by CPU. CPUs that write one ring share its reserve
 * lock and its positions' cache lines: in a storm from two senders on two CPUs that cost them 0.62 of their rate
 * against 0.70 with a ring each (bench figure 3). The reader puts the rings' events back in time order. */
struct {
  __uint(type, BPF_MAP_TYPE_ARRAY_OF_MAPS);
  __uint(max_entries, 1); /* user space: the possible CPUs */
  __type(key, __u32);
  __array(values, struct events_ring);
} cpu_events SEC(".maps");

/* Set before load: events go to this CPU's ring in cpu_events, or to `events` when it has none. */
const volatile __u32 per_cpu_rings = 0;

static __always_inline void *event_ring(void) {
  if (per_cpu_rings) {
    __u32 cpu = bpf_get_smp_processor_id();
    void *ring = bpf_map_lookup_elem(&cpu_events, &cpu);
    if (ring) return ring;
  }
  return &events;
}

/* Set before load. 0: each event may wake the reader (the daemon, which acts on a stop signal at once). Else an
 * event wakes it only once this many bytes wait; the reader finds the rest at its own poll timeout. The kernel
 * wakes a reader that has caught up on every event, and in a signal storm that wakeup (an irq_work, then a
 * cross-CPU wakeup) is most of what a sender pays for being observed. */
const volatile __u64 wakeup_backlog_bytes = 0;

static __always_inline __u64 submit_flags(void *ring) {
  if (!wakeup_backlog_bytes) return 0;
  return bpf_ringbuf_query(ring, BPF_RB_AVAIL_DATA) >= wakeup_backlog_bytes ? BPF_RB_FORCE_WAKEUP : BPF_RB_NO_WAKEUP;
}

struct exit_cause {
  __u32 cause;
  __u32 value;
};

/* Why a process is ending, keyed by tgid: set by exit_group() and by fatal signal delivery. */
struct {
  __uint(type, BPF_MAP_TYPE_LRU_HASH);
  __uint(max_entries, 16384);
  __type(key, __u32);
  __type(value, struct exit_cause);
} group_exit_causes SEC(".maps");

/* The processes whose exit is reported when report_all_exits is 0 (key: tgid). Sized by user space; one entry
 * when unused. */
struct {
  __uint(type, BPF_MAP_TYPE_HASH);
  __uint(max_entries, SIGDRAIN_MAX_EXIT_WATCH);
  __type(key, __u32);
  __type(value, __u8);
} exit_watch SEC(".maps");

/* exit() of one thread, keyed by tid: the process's status when that thread is the last one. */
struct {
  __uint(type, BPF_MAP_TYPE_LRU_HASH);
  __uint(max_entries, 16384);
  __type(key, __u32);
  __type(value, __u32);
} thread_exit_codes SEC(".maps");

/* The last signal generated (not ignored) to a task, keyed by the target pid of signal_generate (a tid or tgid).
 * When a fatal default-action signal is sent, complete_signal() makes it a group exit: the exit status is that
 * signal, and every thread gets a SIGKILL without a signal_generate, which get_signal() reports as a
 * signal_deliver of SIGKILL. This map tells that internal SIGKILL from a real one (kill -9, a runtime's). */
struct {
  __uint(type, BPF_MAP_TYPE_LRU_HASH);
  /* Entries live from a fatal signal's generation to its delivery or the target's exit: a few at a time, so
   * 4096 (320 KiB preallocated) instead of the 16384 (1.3 MiB) of the per-process maps. */
  __uint(max_entries, 4096);
  __type(key, __u32);
  __type(value, __u32);
} generated_fatal SEC(".maps");

/* The stable layout of syscalls:sys_enter_exit{,_group} (see their format files). */
struct syscall_enter_exit_ctx {
  __u64 common; /* struct trace_entry */
  int nr;
  long error_code;
};

/* signal:signal_generate's format, unchanged since 3.x. Declared here without CO-RE relocation because
 * comm is copied as an array: a relocated array address is a modified ctx pointer, which the verifier
 * refuses for tracepoint programs. */
struct signal_generate_ctx {
  __u64 common; /* struct trace_entry */
  int sig;
  int errno_;
  int code;
  char comm[16];
  int pid;
  int group;
  int result;
};

static __always_inline int wanted(int sig) {
  if (sig <= 0 || sig > 64) return 0;
  return signal_mask == 0 || (signal_mask & SIGDRAIN_SIGNAL_BIT(sig));
}

static __always_inline void count(int idx) { __sync_fetch_and_add(&counters[idx], 1); }

static __always_inline int default_is_fatal(int sig) {
  switch (sig) {
    case SIGCHLD_NR: case SIGCONT_NR: case SIGURG_NR: case SIGWINCH_NR:
    case SIGSTOP_NR: case SIGTSTP_NR: case SIGTTIN_NR: case SIGTTOU_NR:
      return 0;
    default:
      return 1;
  }
}

/* What the target does with `sig` now, from the maps dispositions.bpf.c keeps. `target` is a tid (tkill, a fault)
 * or the tgid (kill, pidfd_send_signal), `t` its thread_states record (NULL: none); `group`: the signal is for the
 * whole process. */
static __always_inline __u32 disposition_now(__u32 target, struct sigdrain_thread_state *t, int sig, int group) {
  __u32 tgid = t ? t->tgid : target;
  struct sigdrain_process_actions *a = bpf_map_lookup_elem(&process_actions, &tgid);
  __u64 bit = SIGDRAIN_SIGNAL_BIT(sig);
  if (!a || !(a->known & bit)) return SIGDRAIN_DISP_UNKNOWN;
  if (a->caught & bit) return SIGDRAIN_DISP_HANDLER;
  if (a->ignored & bit) return SIGDRAIN_DISP_IGNORE;
  if (!t || !t->mask_known) return SIGDRAIN_DISP_UNKNOWN; /* default, but blocked or not is not known */
  if (!(t->blocked & bit)) return SIGDRAIN_DISP_DEFAULT;
  /* A process-directed signal goes to the main thread when it does not block it, else to any thread that does
   * not: with more threads than one, blocked by the main thread says nothing about the others. */
  return group && a->threads != 1 ? SIGDRAIN_DISP_BLOCKED_MAYBE : SIGDRAIN_DISP_BLOCKED;
}

static __always_inline void forget_generated_fatal(__u32 target, int sig) {
  __u32 *gen = bpf_map_lookup_elem(&generated_fatal, &target);
  if (gen && GENERATED_SIGNAL(*gen) == (__u32)sig) bpf_map_delete_elem(&generated_fatal, &target);
}

SEC("tracepoint/signal/signal_generate")
int on_signal_generate(struct signal_generate_ctx *ctx) {
  int sig = ctx->sig;
  __u32 target_pid = ctx->pid;
  int tracked = snapshot_dispositions && sig > 0 && sig <= 64;
  /* One lookup serves both the disposition and the event's target_cgroup/target_tgid. */
  struct sigdrain_thread_state *t = tracked ? bpf_map_lookup_elem(&thread_states, &target_pid) : NULL;
  __u32 disposition = tracked ? disposition_now(target_pid, t, sig, ctx->group) : SIGDRAIN_DISP_UNTRACKED;
  /* A signal known to be caught, ignored or blocked does not start a group exit (complete_signal). */
  int may_be_fatal = disposition == SIGDRAIN_DISP_UNTRACKED || disposition == SIGDRAIN_DISP_UNKNOWN ||
                     disposition == SIGDRAIN_DISP_DEFAULT || disposition == SIGDRAIN_DISP_BLOCKED_MAYBE;
  if (ctx->result == SIGDRAIN_RESULT_DELIVERED && sig > 0 && default_is_fatal(sig) && may_be_fatal) {
    __u32 target = ctx->pid, s = sig | (disposition == SIGDRAIN_DISP_DEFAULT ? GROUP_EXIT_STARTED : 0);
    __u32 *old = bpf_map_lookup_elem(&generated_fatal, &target);
    /* The first fatal signal decides a group exit; a later SIGKILL wins, unless trace knows the earlier one started
     * the exit (else it may have been blocked): 5.10 still queues a SIGKILL to a dying process, later kernels
     * drop it at generation. */
    if (!old || (sig == SIGKILL_NR && !(*old & GROUP_EXIT_STARTED)))
      bpf_map_update_elem(&generated_fatal, &target, &s, BPF_ANY);
  }
  if (!wanted(sig)) return 0;
  void *ring = event_ring();
  struct sigdrain_signal_event *e = bpf_ringbuf_reserve(ring, sizeof(*e), 0);
  if (!e) {
    count(SIGDRAIN_CNT_RINGBUF_DROPS);
    return 0;
  }
  __u64 id = bpf_get_current_pid_tgid();
  e->kind = SIGDRAIN_EV_SIGNAL;
  e->sig = sig;
  e->time_ns = bpf_ktime_get_ns();
  e->sender_cgroup = bpf_get_current_cgroup_id();
  e->sender_tgid = id >> 32;
  e->sender_tid = (__u32)id;
  e->target_pid = ctx->pid;
  e->code = ctx->code;
  e->err = ctx->errno_;
  e->group = ctx->group;
  e->result = ctx->result;
  e->disposition = disposition;
  e->target_cgroup = t ? t->cgroup : 0;
  e->target_tgid = t ? t->tgid : 0;
  e->pad = 0;
  bpf_get_current_comm(e->sender_comm, sizeof(e->sender_comm));
  __builtin_memcpy(e->target_comm, ctx->comm, sizeof(e->target_comm));
  bpf_ringbuf_submit(e, submit_flags(ring));
  return 0;
}

SEC("tracepoint/signal/signal_deliver")
int on_signal_deliver(struct trace_event_raw_signal_deliver *ctx) {
  int sig = ctx->sig;
  unsigned long handler = ctx->sa_handler;
  __u64 id = bpf_get_current_pid_tgid();
  __u32 tgid = id >> 32;

  int internal_kill = 0;
  if (sig == SIGKILL_NR) {
    /* The fatal signal this SIGKILL stands for: the one generated to this thread or its process. */
    __u32 tid = (__u32)id;
    __u32 *gen = bpf_map_lookup_elem(&generated_fatal, &tid);
    if (!gen) gen = bpf_map_lookup_elem(&generated_fatal, &tgid);
    if (!gen || GENERATED_SIGNAL(*gen) != SIGKILL_NR) {
      /* No SIGKILL was sent: the kernel's group kill for exit_group(), exec, a core dump or signal *gen. */
      internal_kill = 1;
      if (gen) {
        struct exit_cause *old = bpf_map_lookup_elem(&group_exit_causes, &tgid);
        if (!old) {
          struct exit_cause c = {.cause = SIGDRAIN_EXIT_SIGNAL, .value = GENERATED_SIGNAL(*gen)};
          bpf_map_update_elem(&group_exit_causes, &tgid, &c, BPF_ANY);
        }
      }
    }
  } else if (handler != SIG_DFL_VALUE && default_is_fatal(sig)) {
    /* Caught or ignored: this signal no longer decides how the process ends. (Only default-fatal signals are in
     * generated_fatal: a caught SIGCHLD or Go's SIGURG costs no lookup.) */
    forget_generated_fatal((__u32)id, sig);
    forget_generated_fatal(tgid, sig);
  }

  if (handler == SIG_DFL_VALUE && default_is_fatal(sig) && !internal_kill) {
    /* A fatal default action: the group dies of this signal, unless it already called exit_group().
     * SIGKILL reaches every thread of a dying group (also after exit_group), so it never overrides a code. */
    struct exit_cause *old = bpf_map_lookup_elem(&group_exit_causes, &tgid);
    if (!old || old->cause != SIGDRAIN_EXIT_CODE) {
      if (!(old && sig == SIGKILL_NR && old->cause == SIGDRAIN_EXIT_SIGNAL)) {
        struct exit_cause c = {.cause = SIGDRAIN_EXIT_SIGNAL, .value = sig};
        bpf_map_update_elem(&group_exit_causes, &tgid, &c, BPF_ANY);
      }
    }
  }

  if (internal_kill || !report_deliver || !wanted(sig)) return 0;
  void *ring = event_ring();
  struct sigdrain_deliver_event *e = bpf_ringbuf_reserve(ring, sizeof(*e), 0);
  if (!e) {
    count(SIGDRAIN_CNT_RINGBUF_DROPS);
    return 0;
  }
  e->kind = SIGDRAIN_EV_DELIVER;
  e->sig = sig;
  e->time_ns = bpf_ktime_get_ns();
  e->cgroup = bpf_get_current_cgroup_id();
  e->tgid = tgid;
  e->tid = (__u32)id;
  e->code = ctx->code;
  e->handler_class = handler == SIG_DFL_VALUE   ? SIGDRAIN_HANDLER_DEFAULT
                     : handler == SIG_IGN_VALUE ? SIGDRAIN_HANDLER_IGNORE
                                                : SIGDRAIN_HANDLER_CATCH;
  e->sa_flags = ctx->sa_flags;
  bpf_get_current_comm(e->comm, sizeof(e->comm));
  bpf_ringbuf_submit(e, submit_flags(ring));
  return 0;
}

SEC("tracepoint/syscalls/sys_enter_exit_group")
int on_exit_group(struct syscall_enter_exit_ctx *ctx) {
  __u32 tgid = bpf_get_current_pid_tgid() >> 32;
  struct exit_cause c = {.cause = SIGDRAIN_EXIT_CODE, .value = (__u32)ctx->error_code & 0xff};
  bpf_map_update_elem(&group_exit_causes, &tgid, &c, BPF_ANY);
  return 0;
}

SEC("tracepoint/syscalls/sys_enter_exit")
int on_exit_thread(struct syscall_enter_exit_ctx *ctx) {
  __u32 tid = (__u32)bpf_get_current_pid_tgid();
  __u32 code = (__u32)ctx->error_code & 0xff;
  bpf_map_update_elem(&thread_exit_codes, &tid, &code, BPF_ANY);
  return 0;
}

SEC("tracepoint/sched/sched_process_exit")
int on_process_exit(struct trace_event_raw_sched_process_exit *ctx) {
  __u64 id = bpf_get_current_pid_tgid();
  __u32 tgid = id >> 32, tid = (__u32)id;
  int group_dead = exit_ends_group(ctx, tid, tgid);

  __u32 *thread_code = bpf_map_lookup_elem(&thread_exit_codes, &tid);
  __u32 thread_status = thread_code ? *thread_code : 0;
  int had_thread_code = thread_code != 0;
  if (thread_code) bpf_map_delete_elem(&thread_exit_codes, &tid);
  bpf_map_delete_elem(&generated_fatal, &tid);
  if (!group_dead) return 0;
  if (tid != tgid) bpf_map_delete_elem(&generated_fatal, &tgid); /* a leader's own key went just above */
  if (!report_all_exits && !bpf_map_lookup_elem(&exit_watch, &tgid)) {
    bpf_map_delete_elem(&group_exit_causes, &tgid);
    return 0;
  }

  void *ring = event_ring();
  struct sigdrain_exit_event *e = bpf_ringbuf_reserve(ring, sizeof(*e), 0);
  if (!e) {
    count(SIGDRAIN_CNT_RINGBUF_DROPS);
    bpf_map_delete_elem(&group_exit_causes, &tgid);
    return 0;
  }
  e->kind = SIGDRAIN_EV_EXIT;
  e->tgid = tgid;
  e->time_ns = bpf_ktime_get_ns();
  e->cgroup = bpf_get_current_cgroup_id();
  struct exit_cause *c = bpf_map_lookup_elem(&group_exit_causes, &tgid);
  if (c) {
    e->cause = c->cause;
    e->cause_value = c->value;
  } else if (had_thread_code) {
    e->cause = SIGDRAIN_EXIT_CODE;
    e->cause_value = thread_status;
  } else {
    e->cause = SIGDRAIN_EXIT_UNKNOWN;
    e->cause_value = 0;
  }
  bpf_get_current_comm(e->comm, sizeof(e->comm));
  bpf_map_delete_elem(&group_exit_causes, &tgid);
  bpf_ringbuf_submit(e, submit_flags(ring));
  return 0;
}

char LICENSE[] SEC("license") = "GPL";

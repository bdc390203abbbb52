// SPDX-License-Identifier: GPL-2.0
/* Signal dispositions as the kernel holds them, kept per process (sigactions) and per thread (blocked mask), so
 * `sigdrain trace` can say at signal_generate what the target does with the signal. Loaded by trace only: the
 * syscall tracepoints put every task on the syscall tracing slow path while they are attached.
 * Tracepoint context fields and bpf_probe_read_user only, so it loads under lockdown. */
#include "vmlinux.h"
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_helpers.h>

#include "disposition_maps.bpf.h"
#include "process_exit.bpf.h"
#include "signal_mask.h"

#define SIGKILL_NR 9
#define SIGSTOP_NR 19
#define SIG_DFL_VALUE 0
#define SIG_IGN_VALUE 1
#define SIG_BLOCK_HOW 0
#define SIG_UNBLOCK_HOW 1
#define SIG_SETMASK_HOW 2
#define SA_RESETHAND_FLAG 0x80000000UL
#define CLONE_THREAD_FLAG 0x00010000ULL
#define CLONE_INTO_CGROUP_FLAG 0x200000000ULL
#define UNBLOCKABLE (SIGDRAIN_SIGNAL_BIT(SIGKILL_NR) | SIGDRAIN_SIGNAL_BIT(SIGSTOP_NR))

/* A syscall's arguments between its sys_enter and sys_exit, keyed by tid: applied only when it succeeded. */
struct pending_call {
  __u32 kind; /* PENDING_SIGACTION or PENDING_SIGPROCMASK */
  __u32 arg;  /* the signal, or `how` */
  __u64 value; /* the new sa_handler, or the new mask */
};
enum { PENDING_SIGACTION = 1, PENDING_SIGPROCMASK = 2 };

struct {
  __uint(type, BPF_MAP_TYPE_LRU_HASH);
  __uint(max_entries, 4096);
  __type(key, __u32);
  __type(value, struct pending_call);
} pending_calls SEC(".maps");

/* task:task_newtask's format (stable since 3.x): the new task, in its parent's context. */
struct task_newtask_ctx {
  __u64 common;
  int pid;
  char comm[16];
  __u64 clone_flags;
  short oom_score_adj;
};

/* sched:sched_process_exec's format; filename is a __data_loc (not read). */
struct process_exec_ctx {
  __u64 common;
  __u32 filename_loc;
  int pid;
  int old_pid;
};

/* signal:signal_deliver's format, as signals.bpf.c reads it. */
struct deliver_ctx {
  __u64 common;
  int sig;
  int errno_;
  int code;
  unsigned long sa_handler;
  unsigned long sa_flags;
};

static __always_inline void set_action(struct sigdrain_process_actions *a, int sig, __u64 handler) {
  __u64 bit = SIGDRAIN_SIGNAL_BIT(sig);
  a->known |= bit;
  a->caught &= ~bit;
  a->ignored &= ~bit;
  if (handler == SIG_IGN_VALUE) a->ignored |= bit;
  else if (handler != SIG_DFL_VALUE) a->caught |= bit;
}

SEC("tracepoint/syscalls/sys_enter_rt_sigaction")
int on_sigaction_enter(struct trace_event_raw_sys_enter *ctx) {
  int sig = (int)ctx->args[0];
  const void *act = (const void *)ctx->args[1];
  if (!act || sig < 1 || sig > 64) return 0; /* a query (act NULL) changes nothing */
  struct pending_call p = {.kind = PENDING_SIGACTION, .arg = sig};
  /* sa_handler is the first member of the kernel's struct sigaction on every architecture sigdrain builds for. */
  if (bpf_probe_read_user(&p.value, sizeof(p.value), act)) return 0;
  __u32 tid = (__u32)bpf_get_current_pid_tgid();
  bpf_map_update_elem(&pending_calls, &tid, &p, BPF_ANY);
  return 0;
}

SEC("tracepoint/syscalls/sys_enter_rt_sigprocmask")
int on_sigprocmask_enter(struct trace_event_raw_sys_enter *ctx) {
  const void *set = (const void *)ctx->args[1];
  if (!set) return 0;
  struct pending_call p = {.kind = PENDING_SIGPROCMASK, .arg = (__u32)ctx->args[0]};
  if (bpf_probe_read_user(&p.value, sizeof(p.value), set)) return 0;
  __u32 tid = (__u32)bpf_get_current_pid_tgid();
  bpf_map_update_elem(&pending_calls, &tid, &p, BPF_ANY);
  return 0;
}

static __always_inline struct pending_call *take_pending(__u32 tid, __u32 kind) {
  struct pending_call *p = bpf_map_lookup_elem(&pending_calls, &tid);
  return p && p->kind == kind ? p : 0;
}

SEC("tracepoint/syscalls/sys_exit_rt_sigaction")
int on_sigaction_exit(struct trace_event_raw_sys_exit *ctx) {
  __u64 id = bpf_get_current_pid_tgid();
  __u32 tid = (__u32)id, tgid = id >> 32;
  struct pending_call *p = take_pending(tid, PENDING_SIGACTION);
  if (!p) return 0;
  struct sigdrain_thread_state *t = bpf_map_lookup_elem(&thread_states, &tid);
  if (t) t->cgroup = bpf_get_current_cgroup_id();
  if (ctx->ret == 0) {
    struct sigdrain_process_actions *a = bpf_map_lookup_elem(&process_actions, &tgid);
    if (a) {
      set_action(a, p->arg, p->value);
    } else {
      /* A process not seeded (started in the start-up window): this signal is now known, the others not. */
      struct sigdrain_process_actions fresh = {.threads = 0};
      set_action(&fresh, p->arg, p->value);
      bpf_map_update_elem(&process_actions, &tgid, &fresh, BPF_NOEXIST);
    }
  }
  bpf_map_delete_elem(&pending_calls, &tid);
  return 0;
}

SEC("tracepoint/syscalls/sys_exit_rt_sigprocmask")
int on_sigprocmask_exit(struct trace_event_raw_sys_exit *ctx) {
  __u32 tid = (__u32)bpf_get_current_pid_tgid();
  struct pending_call *p = take_pending(tid, PENDING_SIGPROCMASK);
  if (!p) return 0;
  struct sigdrain_thread_state *t = bpf_map_lookup_elem(&thread_states, &tid);
  if (t) t->cgroup = bpf_get_current_cgroup_id();
  if (ctx->ret == 0 && t) {
    __u64 set = p->value & ~UNBLOCKABLE;
    if (p->arg == SIG_BLOCK_HOW) t->blocked |= set;
    else if (p->arg == SIG_UNBLOCK_HOW) t->blocked &= ~set;
    else if (p->arg == SIG_SETMASK_HOW) {
      t->blocked = set;
      t->mask_known = 1; /* a whole new mask: known from here on even if it was not before */
    }
  }
  bpf_map_delete_elem(&pending_calls, &tid);
  return 0;
}

/* fork/clone: a new process copies its parent's sigactions and thread mask; a new thread shares the sigactions
 * and copies the creating thread's mask (copy_process). */
SEC("tracepoint/task/task_newtask")
int on_newtask(struct task_newtask_ctx *ctx) {
  __u64 id = bpf_get_current_pid_tgid();
  __u32 parent_tid = (__u32)id, parent_tgid = id >> 32;
  __u32 child = ctx->pid;
  int thread = (ctx->clone_flags & CLONE_THREAD_FLAG) != 0;

  struct sigdrain_thread_state *pt = bpf_map_lookup_elem(&thread_states, &parent_tid);
  struct sigdrain_thread_state ct = {.tgid = thread ? parent_tgid : child};
  /* The child starts in its parent's cgroup, unless clone3() placed it elsewhere. */
  if (!(ctx->clone_flags & CLONE_INTO_CGROUP_FLAG)) ct.cgroup = bpf_get_current_cgroup_id();
  if (pt) {
    ct.mask_known = pt->mask_known;
    ct.blocked = pt->blocked;
  }
  bpf_map_update_elem(&thread_states, &child, &ct, BPF_ANY);

  struct sigdrain_process_actions *pa = bpf_map_lookup_elem(&process_actions, &parent_tgid);
  if (!pa) return 0;
  if (thread) {
    __sync_fetch_and_add(&pa->threads, 1);
  } else {
    struct sigdrain_process_actions ca = *pa;
    ca.threads = 1;
    bpf_map_update_elem(&process_actions, &child, &ca, BPF_ANY);
  }
  return 0;
}

/* exec: handlers go back to SIG_DFL, SIG_IGN stays, the mask stays (flush_signal_handlers); the exec'ing thread
 * takes the process's pid and the others are gone. */
SEC("tracepoint/sched/sched_process_exec")
int on_exec(struct process_exec_ctx *ctx) {
  __u32 pid = ctx->pid, old_pid = ctx->old_pid;
  struct sigdrain_process_actions *a = bpf_map_lookup_elem(&process_actions, &pid);
  if (a) {
    a->caught = 0;
    a->threads = 1;
  }
  struct sigdrain_thread_state *t = bpf_map_lookup_elem(&thread_states, &old_pid);
  if (t) {
    t->cgroup = bpf_get_current_cgroup_id(); /* a runtime moves its child into the container's cgroup before exec */
    if (old_pid != pid) {
      struct sigdrain_thread_state moved = *t;
      bpf_map_update_elem(&thread_states, &pid, &moved, BPF_ANY);
      bpf_map_delete_elem(&thread_states, &old_pid);
    }
  }
  return 0;
}

/* The kernel's word at delivery corrects the record (a process that changed a handler in the start-up window). */
SEC("tracepoint/signal/signal_deliver")
int on_deliver_disposition(struct deliver_ctx *ctx) {
  int sig = ctx->sig;
  if (sig < 1 || sig > 64 || sig == SIGKILL_NR || sig == SIGSTOP_NR) return 0;
  __u32 tgid = bpf_get_current_pid_tgid() >> 32;
  struct sigdrain_process_actions *a = bpf_map_lookup_elem(&process_actions, &tgid);
  if (!a) return 0;
  /* SA_RESETHAND: the kernel puts SIG_DFL back right after this tracepoint. */
  int oneshot = ctx->sa_handler > SIG_IGN_VALUE && (ctx->sa_flags & SA_RESETHAND_FLAG);
  set_action(a, sig, oneshot ? SIG_DFL_VALUE : ctx->sa_handler);
  return 0;
}

SEC("tracepoint/sched/sched_process_exit")
int on_exit_dispositions(struct trace_event_raw_sched_process_exit *ctx) {
  __u64 id = bpf_get_current_pid_tgid();
  __u32 tgid = id >> 32, tid = (__u32)id;
  int group_dead = exit_ends_group(ctx, tid, tgid);
  bpf_map_delete_elem(&thread_states, &tid);
  bpf_map_delete_elem(&pending_calls, &tid);
  if (group_dead) {
    bpf_map_delete_elem(&process_actions, &tgid);
  } else {
    struct sigdrain_process_actions *a = bpf_map_lookup_elem(&process_actions, &tgid);
    if (a && a->threads > 1) __sync_fetch_and_add(&a->threads, (__u32)-1); /* clang 14 has no BPF atomic sub */
  }
  return 0;
}

char LICENSE[] SEC("license") = "GPL";

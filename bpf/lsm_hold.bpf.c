// SPDX-License-Identifier: GPL-2.0
/* The LSM hold backend: refuses the stop signals that other processes send to guarded processes, so the daemon
 * can drain them first and deliver the stop itself. The sender's kill() fails with EPERM.
 *
 * Fail-open by construction: nothing is refused once the daemon's lease has expired (the daemon renews it
 * every second; if it dies, refusals end within the lease), SIGKILL and SIGSTOP are never refused whatever the
 * mask says, a refusal by another LSM is kept, and the daemon and the target's own threads are exempt. */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

#include "lsm_hold.h"
#include "signal_mask.h"

#define EPERM_NR 1
#define SIGKILL_NR 9
#define SIGSTOP_NR 19

char LICENSE[] SEC("license") = "GPL";

/* Set before load. */
const volatile __u32 daemon_tgid = 0;          /* its signals always pass: it delivers the held stop */
const volatile __u64 refused_signals = 0;      /* bit n-1 set: refuse signal n */
const volatile __u64 ns_per_tick = 10000000;   /* NSEC_PER_SEC / USER_HZ, as /proc/PID/stat counts */

/* Refusals end at this CLOCK_MONOTONIC time (ns); written by the daemon through the mmapped .bss. */
__u64 lease_expires_ns = 0;
__u64 counters[SIGDRAIN_LSM_CNT_MAX];

struct {
  __uint(type, BPF_MAP_TYPE_HASH);
  __uint(max_entries, 4096);
  __type(key, __u32); /* tgid */
  __type(value, struct sigdrain_lsm_target);
} guarded_targets SEC(".maps");

struct {
  __uint(type, BPF_MAP_TYPE_RINGBUF);
  __uint(max_entries, 1 << 16);
} refusals SEC(".maps");

static __always_inline void count(int idx) { __sync_fetch_and_add(&counters[idx], 1); }

SEC("lsm/task_kill")
int BPF_PROG(refuse_stop_signal, struct task_struct *p, struct kernel_siginfo *info, int sig, const struct cred *cred,
             int ret) {
  if (ret != 0) return ret; /* another LSM refused already */
  if (sig < 1 || sig > 64 || sig == SIGKILL_NR || sig == SIGSTOP_NR) return 0;
  if (!(refused_signals & SIGDRAIN_SIGNAL_BIT(sig))) return 0;

  __u32 target_tgid = p->tgid;
  struct sigdrain_lsm_target *target = bpf_map_lookup_elem(&guarded_targets, &target_tgid);
  if (!target) return 0;
  __u64 id = bpf_get_current_pid_tgid();
  __u32 sender_tgid = id >> 32;
  if (sender_tgid == daemon_tgid || sender_tgid == target_tgid) return 0;
  if (target->start_ticks && p->group_leader->start_boottime / ns_per_tick != target->start_ticks) return 0;
  if (bpf_ktime_get_ns() >= *(volatile __u64 *)&lease_expires_ns) {
    count(SIGDRAIN_LSM_CNT_LEASE_EXPIRED);
    return 0;
  }

  struct sigdrain_refused_event *e = bpf_ringbuf_reserve(&refusals, sizeof(*e), 0);
  if (!e) {
    /* The daemon would never learn of it and nobody would deliver it: let it through instead. */
    count(SIGDRAIN_LSM_CNT_RINGBUF_DROPS);
    return 0;
  }
  count(SIGDRAIN_LSM_CNT_REFUSED);
  e->time_ns = bpf_ktime_get_ns();
  e->sender_tgid = sender_tgid;
  e->sender_tid = (__u32)id;
  e->target_tgid = target_tgid;
  e->target_tid = p->pid;
  e->sig = sig;
  e->pad = 0;
  bpf_get_current_comm(e->sender_comm, sizeof(e->sender_comm));
  bpf_ringbuf_submit(e, 0);
  return -EPERM_NR;
}

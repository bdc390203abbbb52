/* sched:sched_process_exit, shared by bpf/signals.bpf.c and bpf/dispositions.bpf.c: is this exit the last
 * thread's (the process's)? Include after vmlinux.h and bpf_core_read.h. */
#ifndef SIGDRAIN_BPF_PROCESS_EXIT_H
#define SIGDRAIN_BPF_PROCESS_EXIT_H

static __always_inline int exit_ends_group(struct trace_event_raw_sched_process_exit *ctx, __u32 tid, __u32 tgid) {
  if (bpf_core_field_exists(ctx->group_dead))
    return ctx->group_dead; /* a direct ctx load: BPF_CORE_READ would need bpf_probe_read_kernel */
  return tid == tgid;       /* older kernels: the leader's exit stands for the process's */
}

#endif

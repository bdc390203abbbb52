/* The disposition maps, declared alike in bpf/dispositions.bpf.c (which keeps them) and bpf/signals.bpf.c
 * (which reads them at signal_generate): user space creates them once and hands the same fds to both objects
 * (bpf_map__reuse_fd). Without disposition tracking (the daemon) they are sized to one entry and never read. */
#ifndef SIGDRAIN_BPF_DISPOSITION_MAPS_H
#define SIGDRAIN_BPF_DISPOSITION_MAPS_H

#include "dispositions.h"

struct {
  __uint(type, BPF_MAP_TYPE_HASH);
  __uint(max_entries, SIGDRAIN_MAX_TRACKED_PROCESSES);
  __type(key, __u32);
  __type(value, struct sigdrain_process_actions);
} process_actions SEC(".maps");

struct {
  __uint(type, BPF_MAP_TYPE_HASH);
  __uint(max_entries, SIGDRAIN_MAX_TRACKED_THREADS);
  __type(key, __u32);
  __type(value, struct sigdrain_thread_state);
} thread_states SEC(".maps");

#endif

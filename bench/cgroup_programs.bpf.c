// SPDX-License-Identifier: GPL-2.0
/* bench/cgroup_programs.py's programs: the request accounting of bpf/sockets.bpf.c done by cgroup-attached programs
 * (sock_ops for connections, cgroup_skb for payload packets), which run only for the sockets of the cgroups they
 * are attached to, and an empty program of each type (the floor). Not sigdrain's: a measurement of what that
 * redesign would cost, IPv4 only, one cgroup's counts. Requests as in sockets.bpf.c: an inbound connection is in
 * flight from its first payload in to its first payload out. */
#include "vmlinux.h"
#include <bpf/bpf_endian.h>
#include <bpf/bpf_helpers.h>

#define IPPROTO_TCP_NR 6

struct connection {
  __u8 inbound;
  __u8 inflight;
  __u8 listening; /* the lean variant's listeners */
};

struct {
  __uint(type, BPF_MAP_TYPE_SK_STORAGE);
  __uint(map_flags, BPF_F_NO_PREALLOC);
  __type(key, int);
  __type(value, struct connection);
} connections SEC(".maps");

struct counts {
  __s64 open_inbound, inflight, listening;
  __u64 requests_completed, activity;
};

struct {
  __uint(type, BPF_MAP_TYPE_ARRAY);
  __uint(max_entries, 1);
  __type(key, __u32);
  __type(value, struct counts);
} cgroup_counts SEC(".maps");

static __always_inline struct counts *counts(void) {
  __u32 zero = 0;
  return bpf_map_lookup_elem(&cgroup_counts, &zero);
}

SEC("sockops")
int count_sockops(struct bpf_sock_ops *skops) {
  struct bpf_sock *sk = skops->sk;
  struct counts *c = counts();
  struct connection *conn;
  if (!sk || !c) return 1;
  switch (skops->op) {
  case BPF_SOCK_OPS_PASSIVE_ESTABLISHED_CB:
    conn = bpf_sk_storage_get(&connections, sk, 0, BPF_SK_STORAGE_GET_F_CREATE);
    if (conn) {
      conn->inbound = 1;
      __sync_fetch_and_add(&c->open_inbound, 1);
    }
    bpf_sock_ops_cb_flags_set(skops, BPF_SOCK_OPS_STATE_CB_FLAG); /* its close comes as a state callback */
    break;
  case BPF_SOCK_OPS_TCP_LISTEN_CB:
    __sync_fetch_and_add(&c->listening, 1);
    bpf_sock_ops_cb_flags_set(skops, BPF_SOCK_OPS_STATE_CB_FLAG);
    break;
  case BPF_SOCK_OPS_STATE_CB:
    if (skops->args[1] != BPF_TCP_CLOSE) break;
    conn = bpf_sk_storage_get(&connections, sk, 0, 0);
    if (!conn) {
      __sync_fetch_and_add(&c->listening, -1);
      break;
    }
    if (!conn->inbound) break;
    conn->inbound = 0;
    __sync_fetch_and_add(&c->open_inbound, -1);
    if (conn->inflight) __sync_fetch_and_add(&c->inflight, -1);
    break;
  }
  return 1;
}

/* The TCP payload's length in an IPv4 packet; the program sees it from the network header. */
static __always_inline int payload_length(struct __sk_buff *skb) {
  void *data = (void *)(long)skb->data, *end = (void *)(long)skb->data_end;
  struct iphdr *ip = data;
  if ((void *)(ip + 1) > end || ip->version != 4) return 0;
  __u32 ip_length = ip->ihl * 4;
  struct tcphdr *tcp = data + ip_length;
  if (ip_length < sizeof(*ip) || (void *)(tcp + 1) > end) return 0;
  return (int)bpf_ntohs(ip->tot_len) - (int)ip_length - (int)(tcp->doff * 4);
}

static __always_inline struct connection *inbound_connection(struct __sk_buff *skb) {
  struct bpf_sock *sk = skb->sk;
  if (!sk) return 0;
  sk = bpf_sk_fullsock(sk);
  if (!sk || sk->protocol != IPPROTO_TCP_NR) return 0;
  struct connection *conn = bpf_sk_storage_get(&connections, sk, 0, 0);
  return conn && conn->inbound ? conn : 0;
}

SEC("cgroup_skb/ingress")
int count_ingress(struct __sk_buff *skb) {
  struct connection *conn = inbound_connection(skb);
  struct counts *c = counts();
  if (!conn || !c || payload_length(skb) <= 0) return 1;
  c->activity++;
  if (!conn->inflight) {
    conn->inflight = 1;
    __sync_fetch_and_add(&c->inflight, 1);
  }
  return 1;
}

SEC("cgroup_skb/egress")
int count_egress(struct __sk_buff *skb) {
  struct connection *conn = inbound_connection(skb);
  struct counts *c = counts();
  if (!conn || !conn->inflight || !c || payload_length(skb) <= 0) return 1;
  c->activity++;
  conn->inflight = 0;
  __sync_fetch_and_add(&c->inflight, -1);
  __sync_fetch_and_add(&c->requests_completed, 1);
  return 1;
}

/* The lean variant: sock_ops only marks a connection accepted or a socket listening (no state callbacks, one run per
 * state change), and a socket's end comes from cgroup sock_release (Linux 5.9): one run per socket, at the close of
 * its last file descriptor. */
SEC("sockops")
int lean_sockops(struct bpf_sock_ops *skops) {
  int op = skops->op;
  if (op != BPF_SOCK_OPS_PASSIVE_ESTABLISHED_CB && op != BPF_SOCK_OPS_TCP_LISTEN_CB) return 1;
  struct bpf_sock *sk = skops->sk;
  struct counts *c = counts();
  if (!sk || !c) return 1;
  struct connection *conn = bpf_sk_storage_get(&connections, sk, 0, BPF_SK_STORAGE_GET_F_CREATE);
  if (!conn) return 1;
  if (op == BPF_SOCK_OPS_TCP_LISTEN_CB) {
    conn->listening = 1;
    __sync_fetch_and_add(&c->listening, 1);
  } else {
    conn->inbound = 1;
    __sync_fetch_and_add(&c->open_inbound, 1);
  }
  return 1;
}

SEC("cgroup/sock_release")
int lean_release(struct bpf_sock *sk) {
  struct counts *c = counts();
  if (!c || sk->protocol != IPPROTO_TCP_NR) return 1;
  struct connection *conn = bpf_sk_storage_get(&connections, sk, 0, 0);
  if (!conn) return 1;
  if (conn->listening) {
    conn->listening = 0;
    __sync_fetch_and_add(&c->listening, -1);
  }
  if (conn->inbound) {
    conn->inbound = 0;
    __sync_fetch_and_add(&c->open_inbound, -1);
    if (conn->inflight) __sync_fetch_and_add(&c->inflight, -1);
  }
  return 1;
}

SEC("sockops")
int empty_sockops(struct bpf_sock_ops *skops) { return 1; }

SEC("cgroup_skb/ingress")
int empty_ingress(struct __sk_buff *skb) { return 1; }

SEC("cgroup_skb/egress")
int empty_egress(struct __sk_buff *skb) { return 1; }

SEC("cgroup/sock_release")
int empty_release(struct bpf_sock *sk) { return 1; }

char LICENSE[] SEC("license") = "GPL";

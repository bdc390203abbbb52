// SPDX-License-Identifier: GPL-2.0
/* The stop gate: stops (SIGSTOP) a freshly exec'd OCI runtime process of the host before its first instruction
 * when it is about to send a stop signal to a guarded container, so the daemon can seize the container's init
 * first and hold that signal. Between stops nothing of the container is traced.
 *
 * It gates only `<runtime> [global options] kill [--all|-a] <id> [signal]` where <runtime> is a known runtime
 * (runtime_comms), <id> is guarded (guarded_ids), the signal is one of gated_signals (never SIGKILL), the process
 * is in the host's pid namespace and the daemon's lease is fresh. Anything it does not understand passes.
 *
 * Fail-open: every stopped process is recorded in `gated` before it is stopped; the daemon continues it within
 * milliseconds, and a watchdog process continues whatever stays there longer than a bound, or everything once
 * the daemon is gone. A dead or SIGSTOPped daemon renews no lease, so nothing new is stopped once it runs out.
 *
 * sched_process_exec rather than syscalls:sys_enter_execve: enabling any syscall tracepoint puts every task's
 * syscalls on the slow path; this one runs once per exec, after the new argv is in place (mm->arg_start). */
#include "vmlinux.h"
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_helpers.h>

#include "signal_mask.h"
#include "stop_gate.h"

#define SIGKILL_NR 9
#define SIGSTOP_NR 19
#define SIGHUP_NR 1
#define SIGINT_NR 2
#define SIGQUIT_NR 3
#define SIGTERM_NR 15

char LICENSE[] SEC("license") = "GPL";

/* Set before load. */
const volatile __u64 gated_signals = 0; /* bit n-1 set: gate a kill with signal n (SIGKILL never) */
/* The runtimes' comms, the first runtime_count of them. Read-only data rather than a hash map: every exec on the
 * host is compared with them, and two words compared per runtime cost less than hashing the comm and the misses of
 * a bucket and an element (the gate cost 1.25 us per exec above an empty program with a map lookup first). */
const volatile struct sigdrain_gate_comm runtime_comms[SIGDRAIN_GATE_MAX_RUNTIMES] = {};
const volatile __u32 runtime_count = 0;

/* Nothing is stopped at or after this CLOCK_MONOTONIC time (ns); the daemon renews it through the mmapped .bss. */
__u64 lease_expires_ns = 0;
__u64 counters[SIGDRAIN_GATE_CNT_MAX];

struct {
  __uint(type, BPF_MAP_TYPE_HASH);
  __uint(max_entries, 4096); /* preallocated, ~0.6 MiB; a container beyond it is attached at discovery instead */
  __type(key, struct sigdrain_gate_id);
  __type(value, __u8);
} guarded_ids SEC(".maps");

struct {
  __uint(type, BPF_MAP_TYPE_HASH);
  __uint(max_entries, 1024);
  __type(key, __u32); /* tgid */
  __type(value, struct sigdrain_gated);
} gated SEC(".maps");

struct {
  __uint(type, BPF_MAP_TYPE_RINGBUF);
  __uint(max_entries, 1 << 16);
} gate_events SEC(".maps");

static __always_inline void count(int idx) { __sync_fetch_and_add(&counters[idx], 1); }

/* Where the argv parse stands after the token just ended. */
enum parse_state {
  P_GLOBAL = 0,       /* global options, then the subcommand */
  P_GLOBAL_VALUE = 1, /* the value of a global option */
  P_KILL_OPTS = 2,    /* after `kill`: --all / -a, then the id */
  P_ID = 3,           /* inside the id */
  P_SIGNAL = 4,       /* after the id: the optional signal */
  P_DONE = 5,         /* after the signal: nothing may follow */
  P_REJECT = 6,
};

#define TOKEN_PREFIX 16
/* The parse's state lives in a map value, not on the stack: kernels before 6.7 verify a bpf_loop callback once,
 * with the caller's constants, and would prune the branches of every later iteration as dead code. */
struct parse {
  __u32 state;
  __u32 token;   /* index of the current token */
  __u32 toklen;
  __u32 idlen;
  __u32 signo;
  char prefix[TOKEN_PREFIX]; /* the current token's first bytes */
};

struct scratch {
  char argv[SIGDRAIN_GATE_ARGV_LEN];
  struct sigdrain_gated gated;
  struct parse parse;
};
struct {
  __uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
  __uint(max_entries, 1);
  __type(key, __u32);
  __type(value, struct scratch);
} scratch_space SEC(".maps");

struct loop_ctx {
  struct scratch *s;
  __u32 len; /* bytes of argv read */
};

static __always_inline int token_is(const struct parse *p, const char *lit, __u32 n) {
  if (p->toklen != n) return 0;
#pragma unroll
  for (int i = 0; i < TOKEN_PREFIX; i++) {
    if (i >= n) break;
    if (p->prefix[i] != lit[i]) return 0;
  }
  return 1;
}
#define TOKEN_IS(p, lit) token_is(p, lit, sizeof(lit) - 1)

/* runc's and crun's global options that take a separate value (`--root /run/runc`; `--root=/x` is one token). */
static __always_inline int takes_value(const struct parse *p) {
#define IS_OPTION(name) TOKEN_IS(p, name) ||
  return SIGDRAIN_GATE_VALUE_OPTIONS(IS_OPTION) 0;
#undef IS_OPTION
}

/* `15`, `TERM`, `SIGTERM` (and the other stop signals); 0 for anything else. */
static __always_inline __u32 signal_number(const struct parse *p) {
  if (p->toklen >= 1 && p->toklen <= 2 && p->prefix[0] >= '0' && p->prefix[0] <= '9') {
    __u32 n = p->prefix[0] - '0';
    if (p->toklen == 2) {
      if (p->prefix[1] < '0' || p->prefix[1] > '9') return 0;
      n = n * 10 + (p->prefix[1] - '0');
    }
    return n;
  }
  if (TOKEN_IS(p, "TERM") || TOKEN_IS(p, "SIGTERM")) return SIGTERM_NR;
  if (TOKEN_IS(p, "INT") || TOKEN_IS(p, "SIGINT")) return SIGINT_NR;
  if (TOKEN_IS(p, "QUIT") || TOKEN_IS(p, "SIGQUIT")) return SIGQUIT_NR;
  if (TOKEN_IS(p, "HUP") || TOKEN_IS(p, "SIGHUP")) return SIGHUP_NR;
  if (TOKEN_IS(p, "KILL") || TOKEN_IS(p, "SIGKILL")) return SIGKILL_NR;
  return 0;
}

static __always_inline void end_token(struct parse *p) {
  if (p->token++ == 0) return; /* argv[0] */
  switch (p->state) {
    case P_GLOBAL:
      if (p->toklen > 0 && p->prefix[0] == '-')
        p->state = takes_value(p) ? P_GLOBAL_VALUE : P_GLOBAL;
      else
        p->state = TOKEN_IS(p, "kill") ? P_KILL_OPTS : P_REJECT;
      break;
    case P_GLOBAL_VALUE:
      p->state = P_GLOBAL;
      break;
    case P_KILL_OPTS: /* a token that does not start the id: an option */
      p->state = TOKEN_IS(p, "--all") || TOKEN_IS(p, "-a") ? P_KILL_OPTS : P_REJECT;
      break;
    case P_ID:
      p->state = P_SIGNAL;
      break;
    case P_SIGNAL:
      p->signo = signal_number(p);
      p->state = p->signo ? P_DONE : P_REJECT;
      break;
    default:
      p->state = P_REJECT;
  }
}

static long parse_byte(__u32 i, void *ctx) {
  struct loop_ctx *l = ctx;
  struct scratch *s = l->s;
  struct parse *p = &s->parse;
  if (i >= l->len || p->state == P_REJECT) return 1;
  char c = s->argv[i & (SIGDRAIN_GATE_ARGV_LEN - 1)];
  if (c == 0) {
    end_token(p);
    p->toklen = 0;
    return 0;
  }
  if (p->toklen == 0 && p->state == P_KILL_OPTS && c != '-') p->state = P_ID;
  if (p->toklen < TOKEN_PREFIX) p->prefix[p->toklen & (TOKEN_PREFIX - 1)] = c;
  if (p->state == P_ID) {
    if (p->idlen >= SIGDRAIN_GATE_ID_LEN - 1) {
      p->state = P_REJECT; /* longer than any id the daemon guards */
      return 1;
    }
    s->gated.container.id[p->idlen & (SIGDRAIN_GATE_ID_LEN - 1)] = c;
    p->idlen++;
  }
  p->toklen++;
  return 0;
}

/* `comm` (two words, NUL-padded) is one of runtime_comms. */
static __always_inline int is_runtime(const __u64 comm[2]) {
#pragma unroll
  for (int i = 0; i < SIGDRAIN_GATE_MAX_RUNTIMES; i++) {
    if (i >= runtime_count) break;
    const volatile __u64 *known = (const volatile __u64 *)runtime_comms[i].comm;
    if (known[0] == comm[0] && known[1] == comm[1]) return 1;
  }
  return 0;
}

SEC("tp/sched/sched_process_exec")
int gate_runtime_kill(void *ctx) {
  /* Every exec on the host comes here: the comm first (cheapest to refuse), then the lease (a clock read). */
  __u64 comm[2] = {};
  bpf_get_current_comm(comm, sizeof(comm)); /* the basename of the new binary, set by exec */
  if (!is_runtime(comm)) return 0;
  __u64 now = bpf_ktime_get_ns();
  if (now >= *(volatile __u64 *)&lease_expires_ns) return 0;

  struct task_struct *task = (struct task_struct *)bpf_get_current_task();
  if (BPF_CORE_READ(task, thread_pid, level) != 0) return 0; /* in a container's pid namespace: not the host's runtime */

  __u32 zero = 0;
  struct scratch *s = bpf_map_lookup_elem(&scratch_space, &zero);
  if (!s) return 0;
  unsigned long arg_start = BPF_CORE_READ(task, mm, arg_start);
  unsigned long arg_end = BPF_CORE_READ(task, mm, arg_end);
  __u32 len = arg_end > arg_start && arg_end - arg_start <= SIGDRAIN_GATE_ARGV_LEN ? arg_end - arg_start : 0;
  if (len == 0 || len > SIGDRAIN_GATE_ARGV_LEN || bpf_probe_read_user(s->argv, len, (void *)arg_start) != 0) {
    count(SIGDRAIN_GATE_CNT_ARGV_UNREAD);
    return 0;
  }
  __builtin_memset(&s->gated.container, 0, sizeof(s->gated.container));

  __builtin_memset(&s->parse, 0, sizeof(s->parse));
  s->parse.state = P_GLOBAL;
  s->parse.signo = SIGTERM_NR;
  struct loop_ctx l = {.s = s, .len = len};
  bpf_loop(SIGDRAIN_GATE_ARGV_LEN, parse_byte, &l, 0);
  struct parse *p = &s->parse;
  __u32 signo = p->signo;
  if ((p->state != P_SIGNAL && p->state != P_DONE) || signo < 1 || signo > 64 || signo == SIGKILL_NR ||
      !(gated_signals & SIGDRAIN_SIGNAL_BIT(signo)) || !bpf_map_lookup_elem(&guarded_ids, &s->gated.container)) {
    count(SIGDRAIN_GATE_CNT_NOT_A_KILL);
    return 0;
  }

  __u32 tgid = bpf_get_current_pid_tgid() >> 32;
  s->gated.stopped_ns = now;
  s->gated.start_ns = BPF_CORE_READ(task, group_leader, start_boottime);
  s->gated.tgid = tgid;
  s->gated.signo = signo;
  struct sigdrain_gated *e = bpf_ringbuf_reserve(&gate_events, sizeof(*e), 0);
  if (!e) {
    count(SIGDRAIN_GATE_CNT_RINGBUF_DROPS);
    return 0;
  }
  /* Recorded before it is stopped: the watchdog can continue only what it sees. */
  if (bpf_map_update_elem(&gated, &tgid, &s->gated, BPF_ANY) != 0) {
    count(SIGDRAIN_GATE_CNT_MAP_FULL);
    bpf_ringbuf_discard(e, 0);
    return 0;
  }
  if (bpf_send_signal(SIGSTOP_NR) != 0) {
    count(SIGDRAIN_GATE_CNT_SEND_FAILED);
    bpf_map_delete_elem(&gated, &tgid);
    bpf_ringbuf_discard(e, 0);
    return 0;
  }
  __builtin_memcpy(e, &s->gated, sizeof(*e));
  bpf_ringbuf_submit(e, 0);
  count(SIGDRAIN_GATE_CNT_STOPPED);
  return 0;
}

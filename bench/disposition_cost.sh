#!/usr/bin/env bash
# What `sigdrain trace`'s disposition tracking (bpf/dispositions.bpf.c) costs: ns per run of each program, from
# the kernel's BPF statistics (kernel.bpf_stats_enabled), while a loop makes rt_sigaction, rt_sigprocmask,
# fork and exec calls; and what a syscall costs with trace attached (every task on the syscall tracing slow
# path) as a ratio to the same loop without it, interleaved. Run as root after `make build`; prints one table.
set -euo pipefail
cd "$(dirname "$0")/.."
SIGDRAIN=${SIGDRAIN:-build/sigdrain}
[[ $(id -u) == 0 ]] || { echo "disposition_cost: run as root" >&2; exit 2; }

loop() { # the calls the programs see, then ns per getppid() (no BPF program on it: the slow path alone)
  python3 - <<'PY'
import os, signal, time
for _ in range(20000):
    signal.signal(signal.SIGUSR1, signal.SIG_IGN); signal.signal(signal.SIGUSR1, signal.SIG_DFL)
    signal.pthread_sigmask(signal.SIG_BLOCK, [signal.SIGUSR2]); signal.pthread_sigmask(signal.SIG_UNBLOCK, [signal.SIGUSR2])
for _ in range(300):
    pid = os.fork()
    if pid == 0: os.execv("/bin/true", ["true"])
    os.waitpid(pid, 0)
n = 300000; t = time.perf_counter_ns()
for _ in range(n): os.getppid()
print((time.perf_counter_ns() - t) / n)
PY
}

old_stats=$(sysctl -n kernel.bpf_stats_enabled)
stats=$(mktemp)
trap 'rm -f "$stats"; sysctl -qw kernel.bpf_stats_enabled=$old_stats; [[ -n ${trace_pid:-} ]] && kill -INT $trace_pid 2>/dev/null; wait' EXIT
sysctl -qw kernel.bpf_stats_enabled=1
without=() with=()
for round in 1 2 3; do
  without+=("$(loop)")
  "$SIGDRAIN" trace --json --duration 120 >/dev/null &
  trace_pid=$!
  sleep 2
  with+=("$(loop)")
  if ((round == 3)); then
    bpftool prog show -j >"$stats"
    python3 - "$stats" <<'PY'
import json, sys
ns = {}
print("program                      runs        ns/run")
for p in json.load(open(sys.argv[1])):
    name = p.get("name", "")
    if name.startswith(("on_sigaction", "on_sigprocmask", "on_newtask", "on_exec", "on_deliver_disp", "on_exit_dispos")) and p.get("run_cnt"):
        ns[name] = p["run_time_ns"] / p["run_cnt"]
        print(f"{name:<28} {p['run_cnt']:<11} {ns[name]:.0f}")
# Goals: a disposition change <= 1 us, a process lifetime (clone + exit) <= 5 us.
for call, progs, goal in (("rt_sigaction", ("on_sigaction_enter", "on_sigaction_exit"), 1000),
                          ("rt_sigprocmask", ("on_sigprocmask_enter", "on_sigprocmask_exit"), 1000),
                          ("clone + exit", ("on_newtask", "on_exit_dispositions"), 5000)):
    if all(p in ns for p in progs):
        total = sum(ns[p] for p in progs)
        print(f"{call:<16} {total:6.0f} ns per call, goal <= {goal}: {'met' if total <= goal else 'missed'}")
    else:
        print(f"{call:<16} not measured (programs not found)")
PY
  fi
  kill -INT $trace_pid 2>/dev/null || true; wait $trace_pid || true
  trace_pid=""
done
python3 - "${without[*]}" "${with[*]}" <<'PY'
import statistics, sys
a = [float(x) for x in sys.argv[1].split()]; b = [float(x) for x in sys.argv[2].split()]
print(f"getppid() ns without trace {statistics.median(a):.0f}, with trace {statistics.median(b):.0f}: "
      f"ratio {statistics.median(b) / statistics.median(a):.2f} (median of {len(a)} interleaved rounds)")
PY

#!/usr/bin/env python3
"""Figure 13: what `sigdrain daemon` costs every other process on the node between stops.

Two loops that any process runs (bench_node_loops): a syscall (getppid: while any syscall tracepoint has a program,
every syscall of every task takes the kernel's slow path) and a short-lived process (fork, exec /bin/true, exit:
the exec and exit programs, and a ring-buffer event that wakes the daemon if it reports that exit). Variants per
round, in a shuffled order: off, the daemon (`--labelled-only`, nothing guarded: nothing of the loop is watched),
and with --base-sigdrain another build's daemon. Per call: the loop's CPU (its own and its children's) plus the
daemon's own CPU over the loop (its threads' /proc schedstat), each round as a ratio to that round's off. Mean and 95 %
interval over the rounds. Goal: the daemon's cost is within +1 % of a call.
"""
import argparse
import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time

from bench_stats import interval, judge

def process_cpu_ns(pid):
    """CPU time of all the process's threads, in ns (schedstat: no clock-tick rounding)."""
    total = 0
    for tid in os.listdir(f"/proc/{pid}/task"):
        try:
            with open(f"/proc/{pid}/task/{tid}/schedstat") as f:
                total += int(f.read().split()[0])
        except OSError:
            pass  # a thread that ended meanwhile
    return total


class Daemon:
    def __init__(self, binary, scratch):
        self.binary, self.scratch, self.proc = binary, scratch, None

    def __enter__(self):
        state = tempfile.mkdtemp(dir=self.scratch)
        log = open(os.path.join(state, "log"), "w")
        self.proc = subprocess.Popen([self.binary, "daemon", "--state-dir", state, "--labelled-only",
                                      "--bpf-pin-dir", "none"], stdout=log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                sys.exit(f"node_cost: {self.binary} daemon exited {self.proc.returncode}: {open(log.name).read()[-300:]}")
            if "started:" in open(log.name).read():
                time.sleep(0.3)
                return self
            time.sleep(0.05)
        sys.exit("node_cost: the daemon did not start within 20 s")

    def __exit__(self, *exc):
        self.proc.terminate()
        self.proc.wait(15)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--sigdrain", required=True)
    ap.add_argument("--loops", required=True, help="the bench_node_loops binary")
    ap.add_argument("--base-sigdrain", help="another build's sigdrain: its daemon is the variant daemon_base")
    ap.add_argument("--rounds", type=int, default=10)
    ap.add_argument("--syscalls", type=int, default=2_000_000)
    ap.add_argument("--spawns", type=int, default=1500)
    ap.add_argument("--out")
    a = ap.parse_args()
    if a.rounds < 2:
        sys.exit("node_cost: --rounds must be >= 2: one round has no interval")
    variants = ["off", "daemon"] + (["daemon_base"] if a.base_sigdrain else [])
    loops = {"syscall": a.syscalls, "spawn": a.spawns}
    scratch = tempfile.mkdtemp(prefix="sigdrain-node-cost.")
    ns = {(l, v): [] for l in loops for v in variants}
    ratios = {(l, v): [] for l in loops for v in variants[1:]}
    for r in range(a.rounds):
        order = variants[:]
        random.shuffle(order)
        this = {}
        for v in order:
            binary = a.base_sigdrain if v == "daemon_base" else a.sigdrain
            ctx = Daemon(binary, scratch) if v != "off" else None
            if ctx:
                ctx.__enter__()
            try:
                for loop, n in loops.items():
                    daemon_before = process_cpu_ns(ctx.proc.pid) if ctx else 0
                    out = subprocess.run([a.loops, loop, str(n)], capture_output=True, text=True, check=True).stdout
                    daemon_ns = (process_cpu_ns(ctx.proc.pid) - daemon_before) / n if ctx else 0
                    this[(loop, v)] = float(out) + daemon_ns
                    ns[(loop, v)].append(this[(loop, v)])
            finally:
                if ctx:
                    ctx.__exit__()
        for key in ratios:
            ratios[key].append(this[key] / this[(key[0], "off")])
        print(f"  round {r + 1}: " + "  ".join(f"{l}/{v} {interval(ratios[(l, v)])[0]:.4f}+-{interval(ratios[(l, v)])[1]:.4f}"
                                               for l, v in ratios), flush=True)
    result = {"rounds": a.rounds, "loops": {}}
    print("figure 13: what the daemon costs every process on the node between stops (CPU per call, the daemon's own included)")
    for loop in loops:
        result["loops"][loop] = {"off_ns": statistics.median(ns[(loop, "off")])}
        for v in variants[1:]:
            mean, half = interval(ratios[(loop, v)])
            verdict = judge(mean, half, 1.01)
            result["loops"][loop][v] = {"ns": statistics.median(ns[(loop, v)]), "ratio_mean": mean, "ratio_halfwidth95": half,
                                        "verdict": verdict}
            print(f"  {loop:8s} {v:12s} off {statistics.median(ns[(loop, 'off')]):9.0f} ns, with {statistics.median(ns[(loop, v)]):9.0f} ns: "
                  f"{(mean - 1) * 100:+.2f} % +- {half * 100:.2f} % (goal <= +1 %): {verdict}")
    if a.out:
        with open(a.out, "w") as f:
            json.dump(result, f, indent=1)


if __name__ == "__main__":
    main()

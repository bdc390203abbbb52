#!/usr/bin/env python3
"""Figures 10i and 13i: figures 10 and 13 counted in instructions, which this host's noise cannot move.

This host has no hardware PMU (perf has no instruction counter) and shares its CPUs with other tenants, so CPU time
per request cannot resolve 1 % here (figures 10 and 13). qemu's TCG with `-icount shift=0` advances the guest's
clock by one nanosecond per instruction it executes: in a one-CPU VM, a task's CPU time (/proc schedstat) is the
instructions it ran (its system calls, and the softirqs they ran, included), whatever the host does meanwhile.

bench/instructions_vm.sh runs in that VM (scripts/kernels/run-in-vm.sh, a Debian 6.12 kernel from the kernel
matrix, which has the sock_*_length tracepoints the daemon uses on this host): nginx (1 worker) under wrk
(keep-alive, and a new connection per request), and bench_node_loops' getppid and spawn loops, each with sigdrain
off, with the daemon (`--labelled-only`: nothing watched, as in figures 10 and 13), with `sigdrain trace`, and with
empty programs on the daemon's three socket tracepoints (bench_floor_programs: what running any program there
costs, which no change to the programs' bodies takes away), rotated per round. Each round's variant is divided by
that round's "off"; mean ratio and its 95 % interval over the rounds. Goals as figures 10 and 13: nginx <= +1 %
keep-alive, <= +2 % new connection (daemon and trace, as figure 10 judges them); the loops <= +1 % for the daemon
(its own CPU included); trace's loops and the floor are shown, not judged.
What instructions leave out: cache misses and the cost of an instruction on a given CPU (figure 10b's bpf_stats
time has them).
"""
import argparse
import json
import os
import statistics
import subprocess
import sys

from bench_stats import interval, judge

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(HERE)
KINDS = {  # kind: (what, goal as an added share; summarize() says which variants are judged against it)
    "nginx_keepalive": ("nginx instructions per keep-alive request", 0.01),
    "nginx_new_connection": ("nginx instructions per request, a new connection each", 0.02),
    "syscall": ("instructions per getppid(), sigdrain's own included", 0.01),
    "spawn": ("instructions per fork + exec + exit, sigdrain's own included", 0.01),
}
VARIANTS = {
    "daemon": "daemon (nothing watched)",
    "trace": "trace (every cgroup counted)",
    "floor": "empty programs on the 3 socket tracepoints",
    "rawfloor": "empty raw tracepoint programs on the 3",
}


def die(msg):
    sys.exit(f"instructions: {msg}")


def per_unit(kind, value, count, loader_ns):
    """Instructions per request (nginx's own) or per call (the loop's and, as figure 13 counts it, sigdrain's)."""
    if kind.startswith("nginx_"):
        return value / count
    return value + loader_ns / count


def run_vm(a):
    kernel_dir = os.path.join(a.kernel_cache, a.kernel)
    subprocess.run([os.path.join(REPO, "scripts/kernels/fetch-kernels.sh"), a.kernel_cache, a.kernel], check=True,
                   stdout=subprocess.DEVNULL)
    files = [f"{os.path.join(HERE, 'instructions_vm.sh')}:/instructions_vm.sh",
             f"{os.path.join(HERE, 'nginx.conf.in')}:/nginx.conf.in", f"{a.sigdrain}:/sigdrain",
             f"{a.loops}:/node_loops", f"{a.floor_programs}:/floor_programs", "/usr/sbin/nginx:/usr/sbin/nginx", "/usr/bin/wrk:/usr/bin/wrk"]
    cmd = [os.path.join(REPO, "scripts/kernels/run-in-vm.sh"), "--kernel", os.path.join(kernel_dir, "vmlinuz"),
           "--smp", "1", "--icount", "0", "--timeout", str(a.timeout)]
    for f in files:
        cmd += ["--file", f]
    cmd += ["--", "/instructions_vm.sh", "/sigdrain", "/node_loops", "/floor_programs", str(a.rounds), str(a.wrk_seconds),
            str(a.syscalls), str(a.spawns), *a.variants]
    proc = subprocess.run(cmd, capture_output=True, text=True)
    samples = []
    for line in proc.stdout.splitlines():
        words = line.split()
        if len(words) == 7 and words[0] == "sample":
            try:
                samples.append((int(words[1]), words[2], words[3], float(words[4]), int(words[5]), int(words[6])))
            except ValueError:
                die(f"cannot read the VM's line: {line}")
    if proc.returncode != 0:
        tail = "\n".join((proc.stdout + proc.stderr).strip().splitlines()[-15:])
        die(f"the VM run failed (exit {proc.returncode}):\n{tail}")
    return samples


def summarize(samples, rounds, variants):
    by = {}
    for rnd, variant, kind, value, count, loader_ns in samples:
        if kind not in KINDS or variant not in ("off", *variants):
            die(f"unknown sample: {variant} {kind}")
        if count <= 0:
            die(f"a {kind} sample with no requests or calls")
        by[(rnd, variant, kind)] = per_unit(kind, value, count, loader_ns)
    result = {}
    for kind, (what, goal) in KINDS.items():
        offs = [by[(r, "off", kind)] for r in range(1, rounds + 1) if (r, "off", kind) in by]
        if len(offs) != rounds:
            die(f"{kind}: {len(offs)} of {rounds} rounds measured off")
        entry = {"what": what, "goal_added": goal, "off_median": statistics.median(offs), "variants": {}}
        for v in variants:
            if v.endswith("floor") and not kind.startswith("nginx_"):
                continue  # not measured: nothing of the loops runs on socket events
            ratios = [by[(r, v, kind)] / by[(r, "off", kind)] for r in range(1, rounds + 1)]
            mean, half = interval(ratios)
            judged = v == "daemon" or (v == "trace" and kind.startswith("nginx_"))
            entry["variants"][v] = {
                "label": VARIANTS[v],
                "median": statistics.median(by[(r, v, kind)] for r in range(1, rounds + 1)),
                "ratio_mean": mean, "ratio_halfwidth95": half,
                "verdict": judge(mean, half, 1 + goal) if judged else "not judged",
            }
        result[kind] = entry
    return result


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sigdrain", required=True)
    ap.add_argument("--loops", required=True, help="the bench_node_loops binary")
    ap.add_argument("--floor-programs", required=True, help="the bench_floor_programs binary")
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--wrk-seconds", type=int, default=1, help="guest seconds: 10^9 instructions each")
    ap.add_argument("--syscalls", type=int, default=100_000)
    ap.add_argument("--spawns", type=int, default=300)
    ap.add_argument("--kernel", default="6.12", help="a kernel series of scripts/kernels (>= 6.3 for the daemon's "
                                                     "tracepoint socket programs)")
    ap.add_argument("--kernel-cache", default="/var/cache/sigdrain/kernels")
    ap.add_argument("--timeout", type=int, default=0, help="seconds for the VM (default: 300 + 240 per round)")
    ap.add_argument("--variants", default="daemon,trace,floor,rawfloor",
                    help=f"comma-separated, of {','.join(VARIANTS)} (rawfloor: floor's empty programs as raw tracepoint "
                         "programs)")
    ap.add_argument("--out")
    a = ap.parse_args()
    a.variants = [v for v in a.variants.split(",") if v]
    if not a.variants or any(v not in VARIANTS for v in a.variants):
        die(f"--variants: choose from {','.join(VARIANTS)}")
    if a.rounds < 2:
        die("--rounds must be >= 2: one round has no interval")
    for name in ("sigdrain", "loops", "floor_programs"):
        path = getattr(a, name)
        if not os.access(path, os.X_OK):
            die(f"--{name} {path}: not an executable")
        setattr(a, name, os.path.abspath(path))
    a.timeout = a.timeout or 300 + 240 * a.rounds
    samples = run_vm(a)
    figures = summarize(samples, a.rounds, a.variants)
    print(f"figures 10i and 13i: instructions (one-CPU VM, Linux {a.kernel}, qemu -icount), {a.rounds} rounds")
    for kind, f in figures.items():
        for v, d in f["variants"].items():
            print(f"  {kind:21s} {v:7s} off {f['off_median']:10.0f}, with {d['median']:10.0f}: "
                  f"{(d['ratio_mean'] - 1) * 100:+.2f} % +- {d['ratio_halfwidth95'] * 100:.2f} % "
                  f"(goal <= +{f['goal_added'] * 100:.0f} %): {d['verdict']}")
    if a.out:
        with open(a.out, "w") as f:
            json.dump({"kernel": a.kernel, "rounds": a.rounds, "wrk_seconds": a.wrk_seconds, "figures": figures}, f,
                      indent=1)


if __name__ == "__main__":
    main()

#!/usr/bin/env python3
"""What per-cgroup attachment of the socket programs would cost, against today's tracepoint programs.

Not in `make bench`: the measurement behind the one figure-10b goal missed (bench/README.md, session 13). Today's
socket programs are tracepoints: they run for every TCP socket on the node and leave early for a cgroup nobody
watches, so an unwatched connection still pays 14 program runs. Programs attached to a cgroup (sock_ops for
connections, cgroup_skb for payload packets; cgroup_programs.bpf.c) run only for that cgroup's sockets. This tool
serves nginx (1 worker, 512 bytes, loopback) to wrk from a scratch cgroup v2 and reads bpf_stats per request:
  cgroup, server     the counting programs attached to nginx's cgroup (a guarded server, its clients elsewhere):
                     sock_ops with a callback per state change for a connection's end
  cgroup, both       wrk in that cgroup too: every socket counted, as `sigdrain trace` counts
  lean, server/both  the same counting, but sock_ops only marks a connection accepted and a socket's end comes
                     from cgroup sock_release (one run per socket, Linux 5.9)
  empty, empty lean  an empty program of each type of either set instead: the floor of the same runs
  daemon             `sigdrain daemon --labelled-only`: today's programs, nginx not watched
  trace              `sigdrain trace`: today's programs, every socket counted
in --rounds rounds, each in a shuffled order; mean and 95 % interval of ns and runs per request. It also checks
that the counting programs counted every request and saw every connection end (a program that missed packets
would read cheap).
Run as root from the repository root after `make build`, with nginx and wrk installed (bench/run.sh installs them).
"""
import argparse
import json
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time

from bench_nginx import nginx_site, port_free, wrk
from bench_stats import interval
from probe_cost import Loader

BPF_STATS = "/proc/sys/kernel/bpf_stats_enabled"
# The program sets of cgroup_programs.bpf.c, each with the empty set that is its floor: (program, attach type).
# Both counting sets count data alike; "lean" takes a connection's end from sock_release.
_COUNT_DATA = (("count_ingress", "ingress"), ("count_egress", "egress"))
_EMPTY = (("empty_sockops", "sock_ops"), ("empty_ingress", "ingress"), ("empty_egress", "egress"))
PROGRAM_SETS = {
    "cgroup": (("count_sockops", "sock_ops"),) + _COUNT_DATA,
    "lean": (("lean_sockops", "sock_ops"),) + _COUNT_DATA + (("lean_release", "sock_release"),),
    "empty": _EMPTY,
    "empty lean": _EMPTY + (("empty_release", "sock_release"),),
}
FLOOR = {"cgroup": "empty", "lean": "empty lean"}
METRICS_PORT = 18496  # the daemon variant's /readyz
# Today's socket programs, classic or raw tracepoint ones (whichever the kernel lets sigdrain load).
SOCKET_PROGRAMS = tuple(name + suffix for name in ("on_inet_sock_set_state", "on_sock_recv_length", "on_sock_send_length")
                        for suffix in ("", "_raw"))


def die(msg):
    print(f"cgroup_programs: {msg}", file=sys.stderr)
    sys.exit(2)


def cgroup2_root():
    with open("/proc/self/mounts") as f:
        for line in f:
            _, where, kind = line.split()[:3]
            if kind == "cgroup2":
                return where
    die("no cgroup v2 mount: cgroup-attached socket programs need one")


def programs():
    """prog id -> (name, run_time_ns, run_cnt) of every program on the host."""
    out = subprocess.run(["bpftool", "prog", "show", "-j"], capture_output=True, text=True, check=True).stdout
    return {p["id"]: (p.get("name", ""), p.get("run_time_ns", 0), p.get("run_cnt", 0)) for p in json.loads(out)}


def cgroup_counts(pins):
    out = subprocess.run(["bpftool", "map", "dump", "pinned", f"{pins}/maps/cgroup_counts", "-j"],
                         capture_output=True, text=True, check=True).stdout
    entry = json.loads(out)[0]
    return {k: int(v) for k, v in (entry.get("formatted") or entry)["value"].items()}


def settled_counts(pins):
    """The counts once wrk's connections have closed: none open, none in flight (or what is left after 2 s)."""
    deadline = time.monotonic() + 2
    while True:
        c = cgroup_counts(pins)
        if (c["open_inbound"] == 0 and c["inflight"] == 0) or time.monotonic() > deadline:
            return c
        time.sleep(0.05)


class Attached:
    """One of PROGRAM_SETS attached to the cgroup."""

    def __init__(self, pins, program_set, cgroup):
        self.pins, self.cgroup = pins, cgroup
        self.programs = PROGRAM_SETS[program_set]

    def __enter__(self):
        for prog, hook in self.programs:
            subprocess.run(["bpftool", "cgroup", "attach", self.cgroup, hook, "pinned", f"{self.pins}/{prog}",
                            "multi"], check=True)
        return self

    def __exit__(self, *exc):
        for prog, hook in self.programs:
            subprocess.run(["bpftool", "cgroup", "detach", self.cgroup, hook, "pinned", f"{self.pins}/{prog}"],
                           check=False)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--sigdrain", default="build/sigdrain")
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--seconds", type=int, default=2)
    ap.add_argument("--port", type=int, default=18495)
    ap.add_argument("--out", help="JSON results")
    a = ap.parse_args()
    if os.geteuid() != 0:
        die("run as root (BPF, cgroups)")
    if a.rounds < 2:
        die("--rounds must be >= 2: one round has no interval")
    for tool in ("nginx", "wrk", "bpftool", "clang"):
        if not shutil.which(tool):
            die(f"{tool} is not installed")
    if not os.access(a.sigdrain, os.X_OK):
        die(f"no {a.sigdrain}: make build")
    if not port_free(a.port):
        die(f"port {a.port} is in use (--port)")

    here = os.path.dirname(os.path.abspath(__file__))
    scratch = tempfile.mkdtemp(prefix="sigdrain-cgroup-programs.")
    name = f"sigdrain_cgroup_programs_{os.getpid()}"  # bpffs takes no '.' in a name
    cgroup = os.path.join(cgroup2_root(), name)
    pins = f"/sys/fs/bpf/{name}"
    obj = os.path.join(scratch, "cgroup_programs.bpf.o")
    subprocess.run(["clang", "-g", "-O2", "-target", "bpf", "-D__TARGET_ARCH_x86", "-Wall", "-Werror",
                    f"-I{here}/../bpf/vmlinux/x86_64", "-c", f"{here}/cgroup_programs.bpf.c", "-o", obj], check=True)
    old_stats = open(BPF_STATS).read().strip()
    os.makedirs(cgroup)
    nginx = None
    try:
        subprocess.run(["bpftool", "prog", "loadall", obj, pins, "pinmaps", f"{pins}/maps"], check=True)
        conf = nginx_site(scratch, a.port)
        # Started in the cgroup: the listening socket, and so every connection it accepts, belongs to it.
        subprocess.run(["sh", "-c", f'echo $$ > {cgroup}/cgroup.procs && exec nginx -c "$0" -p "$1"', conf, scratch],
                       check=True)
        nginx = conf
        url = f"http://127.0.0.1:{a.port}/index.html"
        time.sleep(0.3)
        wrk(url, "keepalive", 1, None)  # warm-up
        with open(BPF_STATS, "w") as f:
            f.write("1")
        variants = tuple(f"{ps}, {who}" for ps in PROGRAM_SETS for who in ("server", "both")) + ("daemon", "trace")
        modes = ("keepalive", "new_connection")
        samples = {(v, m): [] for v in variants for m in modes}  # (ns per request, runs per request)
        missed = []
        for r in range(a.rounds):
            order = list(variants)
            random.shuffle(order)
            for v in order:
                program_set = v.split(", ")[0]
                if v in ("daemon", "trace"):
                    holder, ours = Loader(v, a.sigdrain, scratch, METRICS_PORT), set(SOCKET_PROGRAMS)
                else:
                    holder, ours = Attached(pins, program_set, cgroup), {p for p, _ in PROGRAM_SETS[program_set]}
                with holder:
                    for m in modes:
                        completed0 = cgroup_counts(pins)["requests_completed"]
                        before = programs()
                        n = wrk(url, m, a.seconds, cgroup if v.endswith("both") else None)
                        after = programs()
                        ns = runs = 0
                        for pid, (name, t, c) in after.items():
                            if pid in before and name in ours:
                                ns += t - before[pid][1]
                                runs += c - before[pid][2]
                        samples[(v, m)].append((ns / n, runs / n))
                        if program_set in FLOOR:
                            # Every request wrk made was answered and counted (wrk may stop before reading the last
                            # answer on each connection, so it may report fewer), and every connection's end seen.
                            counts = settled_counts(pins)
                            done = counts["requests_completed"] - completed0
                            if not n <= done <= n + 32:
                                missed.append(f"{v}, {m}: {done} requests counted, wrk made {n}")
                            if counts["open_inbound"] or counts["inflight"]:
                                missed.append(f"{v}, {m}: {counts['open_inbound']} connections still open, "
                                              f"{counts['inflight']} requests in flight after wrk ended")
            print(f"  round {r + 1} of {a.rounds}", flush=True)
    finally:
        with open(BPF_STATS, "w") as f:
            f.write(old_stats)
        if nginx:
            subprocess.run(["nginx", "-c", nginx, "-p", scratch, "-s", "stop"], check=False, stderr=subprocess.DEVNULL)
            time.sleep(0.5)
        subprocess.run(["rm", "-rf", pins], check=False)
        try:
            os.rmdir(cgroup)
        except OSError as e:
            print(f"cgroup_programs: {cgroup} left: {e}", file=sys.stderr)
        shutil.rmtree(scratch, ignore_errors=True)

    results = {}
    print(f"{'programs':18s} {'workload':15s} {'ns/request':>16s} {'runs/request':>13s} {'net of empty':>16s}")
    for m in modes:
        for v in variants:
            ns_mean, ns_half = interval([ns for ns, _ in samples[(v, m)]])
            runs_mean, _ = interval([runs for _, runs in samples[(v, m)]])
            row = {"ns_per_request_mean": ns_mean, "ns_per_request_halfwidth95": ns_half,
                   "runs_per_request_mean": runs_mean}
            net = ""
            program_set = v.split(", ")[0]
            if program_set in FLOOR:
                floor = samples[(v.replace(program_set, FLOOR[program_set], 1), m)]
                net_mean, net_half = interval([ns - f for (ns, _), (f, _) in zip(samples[(v, m)], floor)])
                row |= {"net_ns_per_request_mean": net_mean, "net_ns_per_request_halfwidth95": net_half}
                net = f"{net_mean:7.0f} +- {net_half:4.0f}"
            results[f"{v} / {m}"] = row
            print(f"{v:18s} {m:15s} {ns_mean:7.0f} +- {ns_half:5.0f} {runs_mean:13.2f} {net:>16s}")
    if a.out:
        with open(a.out, "w") as f:
            json.dump({"rounds": a.rounds, "seconds": a.seconds, "results": results, "miscounted": missed}, f, indent=1)
    if missed:
        print("cgroup_programs: the counting programs miscounted:\n  " + "\n  ".join(missed), file=sys.stderr)
        sys.exit(1)


if __name__ == "__main__":
    main()

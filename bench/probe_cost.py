#!/usr/bin/env python3
"""Figure 10: what sigdrain's probes cost a server, resolved to 1 %.

nginx (1 worker) serves a small file on loopback to wrk. The figure is the worker's own CPU time per request
(its sum_exec_runtime in ns, /proc/<pid>/schedstat, so clock-tick rounding does not blur it), not throughput,
which on a shared machine moves by more than the effect. Each round runs every variant once, in a shuffled order,
and is judged as a ratio to that round's own "off": rounds are paired, so the drift of the machine between rounds
cancels. Rounds go on until the 95 % interval of the mean ratio is within +-1 % for every mode and variant (or
--max-rounds). Variants:
  off      no sigdrain
  daemon   `sigdrain daemon --labelled-only`: every probe loaded as deployed; nginx is in no container, so its
           sockets take the early exit for cgroups sigdrain does not watch
  trace    `sigdrain trace`: every probe loaded and every cgroup counted: the cost of a watched socket
  daemon_base  with --base-sigdrain BIN: the daemon of another build (e.g. the last release's, or a git worktree
           of HEAD's), in the same shuffled rounds: what a change to the daemon's probes saves or costs, as the
           difference of two ratios measured side by side
Figure 10b: then, for daemon and trace, the kernel's own run time of the programs the sigdrain process holds
(kernel.bpf_stats_enabled=1, run_time_ns and run_cnt from fdinfo) around each wrk run, per request. It resolves
what figure 10 cannot on a noisy host, but counts only the programs' own run time (tracepoint dispatch and cache
effects are not in it) and every run on the host, wrk's end of each connection included: for nginx's share it is
an upper bound. Also the same net of bpf_stats' own per-run cost: with --floor-programs, an empty program's ns/run
on the same events in the same run (bench_floor_programs); else with --floor-from, figure 2's (bench_loopback's
JSON), measured in another workload and cache state.
Writes one JSON object (--out) that bench_report turns into rows.
"""
import argparse
import contextlib
import json
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request

from bench_nginx import nginx_site, port_free, wrk
from bench_stats import interval

def die(msg):
    print(f"probe_cost: {msg}", file=sys.stderr)
    sys.exit(1)


def bpf_prog_fds(pid):
    fds = []
    try:
        for fd in os.listdir(f"/proc/{pid}/fd"):
            try:
                if os.readlink(f"/proc/{pid}/fd/{fd}") == "anon_inode:bpf-prog":
                    fds.append(fd)
            except OSError:
                pass
    except OSError:
        pass
    return fds


def bpf_progs(pid):
    return len(bpf_prog_fds(pid))


def bpf_run_totals(pid):
    """(run_time_ns, run_cnt) summed over the distinct BPF programs pid holds; they grow only while bpf_stats is on."""
    by_id = {}
    for fd in bpf_prog_fds(pid):
        try:
            with open(f"/proc/{pid}/fdinfo/{fd}") as f:
                info = dict(line.split(":", 1) for line in f if ":" in line)
        except OSError:
            continue
        if "prog_id" in info:  # two descriptors of one program count it once
            by_id[int(info["prog_id"])] = (int(info.get("run_time_ns", 0)), int(info.get("run_cnt", 0)))
    return sum(ns for ns, _ in by_id.values()), sum(n for _, n in by_id.values())


BPF_STATS = "/proc/sys/kernel/bpf_stats_enabled"


def empty_program_floor(path):
    """An empty program's ns/run as bench_loopback measured it on this host (bpf_stats' own cost), or None."""
    try:
        with open(path) as f:
            floor = json.load(f).get("bpf_stats_empty_program") or {}
    except (OSError, ValueError):
        return None
    return floor.get("ns_per_run") if floor.get("available") else None


class Loader:
    """One sigdrain process that holds the probes while it runs."""

    def __init__(self, variant, sigdrain, scratch, metrics_port):
        self.variant, self.proc = variant, None
        self.sigdrain, self.scratch, self.metrics_port = sigdrain, scratch, metrics_port

    def __enter__(self):
        log = open(os.path.join(self.scratch, f"{self.variant}.log"), "w")
        if self.variant == "trace":
            cmd = [self.sigdrain, "trace", "--json", "--signal", "SIGUSR2"]
        else:
            state = tempfile.mkdtemp(dir=self.scratch)
            # Unpinned: a pinned daemon's programs stay attached after it exits, and every later "off" round
            # would run them.
            cmd = [self.sigdrain, "daemon", "--state-dir", state, "--labelled-only", "--bpf-pin-dir", "none",
                   "--metrics-address", f"127.0.0.1:{self.metrics_port}"]
        self.proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=log)
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                die(f"{' '.join(cmd)} exited {self.proc.returncode}: "
                    f"{open(log.name).read().strip()[-300:]}")
            if self.ready():
                return self
            time.sleep(0.05)
        die(f"{self.variant} did not load its probes within 20 s")

    def ready(self):
        if self.variant == "trace":
            return bpf_progs(self.proc.pid) >= 8
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{self.metrics_port}/readyz", timeout=1) as r:
                return r.status == 200
        except OSError:
            return False

    def __exit__(self, *exc):
        self.proc.terminate()
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


def worker_cpu_ns(pid):
    with open(f"/proc/{pid}/schedstat") as f:
        return int(f.read().split()[0])


def summary(key, values):
    mean, half = interval(values)
    return {f"{key}_mean": mean, f"{key}_halfwidth95": half}


class FloorPrograms:
    """bench_floor_programs: empty programs on the events sigdrain's socket programs run on, held while it lives."""

    EVENTS = ("sock/sock_recv_length", "sock/sock_send_length", "sock/inet_sock_set_state")

    def __init__(self, path):
        self.path = path

    def __enter__(self):
        self.proc = subprocess.Popen([self.path, *self.EVENTS], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        if self.proc.stdout.readline().strip() != "ready":
            self.proc.wait()
            raise RuntimeError(f"{self.path} could not attach its empty programs (exit {self.proc.returncode})")
        return self

    def __exit__(self, *exc):
        self.proc.stdin.close()
        self.proc.wait(timeout=10)


def bpf_stats_pass(url, a, scratch, modes, off_cpu, floor):
    """Figure 10b: the programs' own run time per request, for daemon and trace, over --stats-rounds rounds.

    A pass of its own after figure 10's rounds, not interleaved with them: bpf_stats adds its two clock reads to
    every program run on the host (~50 ns each here), which figure 10 would charge to its "on" variants. Its
    variants are not paired with an "off": without sigdrain there is nothing to count. The share is of figure 10's
    median "off" CPU per request."""
    try:
        with open(BPF_STATS) as f:
            old = f.read().strip()
    except OSError as e:
        return {"available": False, "reason": f"cannot read kernel.bpf_stats_enabled: {e}"}
    per = {m: {v: [] for v in ("daemon", "trace")} for m in modes}  # (BPF ns, program runs) per request
    # With --floor-programs: each run's own floor, an empty program's ns/run on the same events meanwhile.
    floors = {m: {v: [] for v in ("daemon", "trace")} for m in modes}
    floor_programs = contextlib.ExitStack()
    try:
        if a.floor_programs:
            try:
                floor_pids = [floor_programs.enter_context(FloorPrograms(a.floor_programs)).proc.pid]
            except (OSError, RuntimeError) as e:
                print(f"probe_cost: no floor measured in place, figure 2's is used: {e}", file=sys.stderr)
                floor_pids = []
        else:
            floor_pids = []
        try:
            with open(BPF_STATS, "w") as f:
                f.write("1")
        except OSError as e:
            return {"available": False, "reason": f"cannot set kernel.bpf_stats_enabled=1: {e}"}
        for r in range(a.stats_rounds):
            order = ["daemon", "trace"]
            random.shuffle(order)
            for v in order:
                with Loader(v, a.sigdrain, scratch, a.metrics_port) as loader:
                    for m in modes:
                        ns0, runs0 = bpf_run_totals(loader.proc.pid)
                        f0 = [bpf_run_totals(pid) for pid in floor_pids]
                        n = wrk(url, m, a.seconds)
                        ns1, runs1 = bpf_run_totals(loader.proc.pid)
                        f1 = [bpf_run_totals(pid) for pid in floor_pids]
                        for (fns0, fruns0), (fns1, fruns1) in zip(f0, f1):
                            if fruns1 > fruns0:
                                floors[m][v].append((fns1 - fns0) / (fruns1 - fruns0))
                        # Another tool that turned the sysctl off meanwhile would make the figure look cheap.
                        with open(BPF_STATS) as f:
                            if f.read().strip() != "1" or runs1 == runs0:
                                return {"available": False, "reason": "kernel.bpf_stats_enabled was turned off "
                                        "during a run (another tool?)" if runs1 != runs0 else "no program run counted"}
                        per[m][v].append(((ns1 - ns0) / n, (runs1 - runs0) / n))
            print(f"  bpf_stats round {r + 1:2d}: " + "  ".join(
                f"{m[:4]}/{v} {per[m][v][-1][0]:.0f} ns {per[m][v][-1][1]:.2f} runs" for m in modes
                for v in ("daemon", "trace")), flush=True)
    finally:
        floor_programs.close()
        try:
            with open(BPF_STATS, "w") as f:
                f.write(old)
        except OSError as e:
            print(f"probe_cost: could not restore kernel.bpf_stats_enabled={old}: {e}", file=sys.stderr)
    in_place = all(len(floors[m][v]) == len(per[m][v]) for m in modes for v in per[m]) and bool(floor_pids)
    out = {"available": True, "rounds": a.stats_rounds, "floor_in_place": in_place, "modes": {}}
    if in_place:
        out["floor_ns_per_run"] = statistics.median(f for m in modes for v in floors[m] for f in floors[m][v])
    else:
        out["floor_ns_per_run"] = floor
    for m in modes:
        out["modes"][m] = {}
        for v, runs in per[m].items():
            row = summary("ns_per_request", [ns for ns, _ in runs])
            row |= summary("runs_per_request", [n for _, n in runs])
            row |= summary("share_of_off", [ns / off_cpu[m] for ns, _ in runs])
            # Each run's bpf_stats clock reads taken out: the floor of that run where measured in place.
            run_floors = floors[m][v] if in_place else [floor] * len(runs) if floor is not None else None
            if run_floors is not None:
                row |= summary("floor_ns_per_run", run_floors)
                row |= summary("net_ns_per_request", [ns - f * n for (ns, n), f in zip(runs, run_floors)])
                row |= summary("net_share_of_off", [(ns - f * n) / off_cpu[m] for (ns, n), f in zip(runs, run_floors)])
            out["modes"][m][v] = row
            net = (f", net of the {row['floor_ns_per_run_mean']:.0f} ns/run floor "
                   f"({'measured in place' if in_place else 'figure 2'}) {100 * row['net_share_of_off_mean']:.2f} % "
                   f"+- {100 * row['net_share_of_off_halfwidth95']:.2f} %" if run_floors is not None else "")
            print(f"figure 10b, {m}, {v}: BPF {row['ns_per_request_mean']:.0f} +- "
                  f"{row['ns_per_request_halfwidth95']:.0f} ns/request ({row['runs_per_request_mean']:.2f} runs), "
                  f"{100 * row['share_of_off_mean']:.2f} % +- {100 * row['share_of_off_halfwidth95']:.2f} % of off"
                  + net, flush=True)
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--sigdrain", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--port", type=int, default=18433)
    ap.add_argument("--metrics-port", type=int, default=18434)
    ap.add_argument("--seconds", type=int, default=2)  # wrk takes whole seconds
    ap.add_argument("--min-rounds", type=int, default=8)
    ap.add_argument("--max-rounds", type=int, default=30)
    ap.add_argument("--goal-halfwidth", type=float, default=0.01)
    ap.add_argument("--stats-rounds", type=int, default=5, help="figure 10b rounds (0: none; else >= 2 for an interval)")
    ap.add_argument("--floor-from", help="bench_loopback's JSON: the empty program's ns/run for 10b's net figure")
    ap.add_argument("--floor-programs", help="bench_floor_programs: 10b's floor measured in each run (before "
                    "--floor-from)")
    ap.add_argument("--base-sigdrain", help="another build's sigdrain: its daemon is the variant daemon_base")
    a = ap.parse_args()
    if a.stats_rounds == 1 or a.stats_rounds < 0 or a.max_rounds < 2:
        die("--stats-rounds must be 0 or >= 2 and --max-rounds >= 2: one round has no interval")
    for tool in ("nginx", "wrk"):
        if not shutil.which(tool):
            die(f"{tool} is not installed")
    for p in (a.port, a.metrics_port):
        if not port_free(p):
            die(f"port {p} is in use")

    scratch = tempfile.mkdtemp(prefix="sigdrain-probe-cost.")
    conf = nginx_site(scratch, a.port)
    subprocess.run(["nginx", "-c", conf, "-p", scratch], check=True)
    try:
        master = None
        for _ in range(100):
            try:
                master = int(open(f"{scratch}/nginx.pid").read())
                children = open(f"/proc/{master}/task/{master}/children").read().split()
                if children and not port_free(a.port):
                    break
            except (OSError, ValueError):
                pass
            time.sleep(0.05)
        worker = int(children[0])
        url = f"http://127.0.0.1:{a.port}/index.html"
        wrk(url, "keepalive", 1)  # warm-up
        modes, variants = ("keepalive", "new_connection"), ("off", "daemon", "trace")
        if a.base_sigdrain:
            variants += ("daemon_base",)
        samples = {m: {v: [] for v in variants} for m in modes}  # (cpu ns per request, requests per second)
        ratios = {m: {v: [] for v in variants[1:]} for m in modes}
        rounds = 0
        while rounds < a.max_rounds:
            order = list(variants)
            random.shuffle(order)
            this = {}
            for v in order:
                binary = a.base_sigdrain if v == "daemon_base" else a.sigdrain
                ctx = Loader(v, binary, scratch, a.metrics_port) if v != "off" else None
                if ctx:
                    ctx.__enter__()
                try:
                    for m in modes:
                        before = worker_cpu_ns(worker)
                        t0 = time.monotonic()
                        n = wrk(url, m, a.seconds)
                        elapsed = time.monotonic() - t0
                        cpu = (worker_cpu_ns(worker) - before) / n
                        this[(m, v)] = cpu
                        samples[m][v].append((cpu, n / elapsed))
                finally:
                    if ctx:
                        ctx.__exit__(None, None, None)
            rounds += 1
            for m in modes:
                for v in variants[1:]:
                    ratios[m][v].append(this[(m, v)] / this[(m, "off")])
            widths = [interval(ratios[m][v])[1] for m in modes for v in variants[1:]]
            print(f"  round {rounds:2d}: " + "  ".join(
                f"{m[:4]}/{v} {interval(ratios[m][v])[0]:.4f}+-{interval(ratios[m][v])[1]:.4f}"
                for m in modes for v in variants[1:]), flush=True)
            if rounds >= a.min_rounds and max(widths) <= a.goal_halfwidth:
                break
        out = {"rounds": rounds, "seconds_per_run": a.seconds, "goal_halfwidth": a.goal_halfwidth, "modes": {}}
        for m in modes:
            out["modes"][m] = {
                "off_cpu_ns_per_request": statistics.median(c for c, _ in samples[m]["off"]),
                "off_rps_median": statistics.median(r for _, r in samples[m]["off"]),
            }
            for v in variants[1:]:
                mean, half = interval(ratios[m][v])
                out["modes"][m][v] = {
                    "cpu_ns_per_request_median": statistics.median(c for c, _ in samples[m][v]),
                    "cpu_ratio_mean": mean, "cpu_ratio_halfwidth95": half,
                    "rps_median": statistics.median(r for _, r in samples[m][v]),
                    "rps_ratio": statistics.median(r for _, r in samples[m][v]) / out["modes"][m]["off_rps_median"],
                }
        if a.stats_rounds:
            floor = empty_program_floor(a.floor_from) if a.floor_from else None
            off_cpu = {m: out["modes"][m]["off_cpu_ns_per_request"] for m in modes}
            out["bpf_stats"] = bpf_stats_pass(url, a, scratch, modes, off_cpu, floor)
        with open(a.out, "w") as f:
            json.dump(out, f, indent=1)
    finally:
        try:
            os.kill(int(open(f"{scratch}/nginx.pid").read()), 15)
        except (OSError, ValueError):
            pass
        time.sleep(0.2)
        shutil.rmtree(scratch, ignore_errors=True)


if __name__ == "__main__":
    main()

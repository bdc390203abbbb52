#!/usr/bin/env python3
"""What guarding costs a running app (issue #12; bench/README.md figures 7 and 12).

For each app kind, two pairs of podman containers under one `sigdrain daemon --labelled-only`, in each pair one
labelled sigdrain.io/guard=true and one sigdrain.io/guard=false (made guarded first in one pair, unguarded first in
the other, so creation order and port fall on both alike). Figure 7: each round runs wrk on one pair's guarded and
unguarded container back to back (pairs alternate, the order within a round flips every two rounds); the median of
the rounds' guarded / unguarded throughput ratios vs >= 0.99 and the added p99 (median of the rounds' p99 guarded -
unguarded) vs <= 0.5 ms; beside them the app's own CPU per request (its cgroup's CPU time over the requests wrk
counted), guarded / unguarded, mean of the paired rounds with its 95 % interval vs <= 1.01 (met only when the whole
interval is inside, missed only when it is wholly outside, else unresolved). Figure 12: the guarded app under the
same load for a window with the daemon SIGSTOPped (a CPU-throttled pod, a debugger) and the same window with it
running, interleaved: the longest request (wrk's max latency, medians over the rounds) may grow by <= 10 ms.

Apps (--apps, comma-separated):
  thread  tests/e2e/apps/plain_http.py, a thread per connection (ThreadingHTTPServer), a new connection per request
          (4 at a time: its listen backlog is 5)
  go      the pytest tier's Go net/http server (tests/e2e_py/apps/go_http.go), /spin?ms=30: CPU-bound handlers that
          Go's runtime preempts with SIGURG
  shell   bench/apps/fork_per_request.sh: a shell PID 1 forking one busybox nc per request (a SIGCHLD each)
  nginx   nginx as PID 1, one worker, `return 200`, keep-alive
  jvm     the pytest tier's JDK HttpServer (tests/e2e_py/apps/Server.java), a new connection per request

Each figure prints one line "... vs goal ..., met|MISSED"; an app that cannot be measured prints "not measured: why"
and the others still run (exit status 1 then). --out writes every app's rounds and figures as JSON for bench_report
(an app not measured with its reason). Needs root, podman (runc), wrk, the e2e rootfs
(scripts/podman-setup.sh), go and a JDK (scripts/setup.sh), busybox (busybox-static) for the shell app. Container names: SIGDRAIN_BENCH_PREFIX (default sdb-).
"""
import argparse
import json
import os
import re
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request

REPO = os.path.realpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
PREFIX = os.environ.get("SIGDRAIN_BENCH_PREFIX", "sdb-")
# The pytest tier's runtime and app helpers label what they make with their owner: ours, so that a pytest session
# removing its own leftovers never takes these.
os.environ["SIGDRAIN_PYTEST_PREFIX"] = PREFIX
sys.path.insert(0, os.path.join(REPO, "tests", "e2e_py"))
import apps  # noqa: E402
from bench_stats import interval, judge  # noqa: E402
from runtimes import Mount, Podman, Spec, tracer_pid, wait_for  # noqa: E402

THROUGHPUT_GOAL = 0.99
CPU_GOAL = 1.01  # the app's CPU per request, guarded / unguarded: the same 1 % as the throughput goal
P99_GOAL_MS = 0.5
PAUSE_GOAL_MS = 10.0


class App:
    """One app kind: how to run it and how wrk loads it."""

    def __init__(self, key, what, path, connections, close_each=False):
        self.key, self.what, self.path, self.connections, self.close_each = key, what, path, connections, close_each


APPS = {
    # 4 connections: socketserver's listen backlog is 5, and with 8 new connections at a time its accept queue
    # overflows (ListenOverflows), the SYN is retransmitted and that request takes ~210 ms, guarded or not, daemon
    # paused or not: figure 12's longest request measured that lottery.
    "thread": App("thread", "thread per connection (Python)", "/", 4, close_each=True),
    "go": App("go", "Go net/http, 30 ms CPU-bound handlers", "/spin?ms=30", 4),
    "shell": App("shell", "shell PID 1 forking per request", "/", 2, close_each=True),
    "nginx": App("nginx", "nginx", "/", 16),
    # A new connection per request: with keep-alive, HttpServer's two writes per answer meet the client's delayed ACK
    # (40 ms a request), which would be all that wrk measures.
    "jvm": App("jvm", "JVM HttpServer", "/", 8, close_each=True),
}

NGINX_CONF = """worker_processes 1;
daemon off;
user www-data www-data;
pid /tmp/nginx.pid;
error_log stderr warn;
events {{ worker_connections 1024; }}
http {{
  access_log off;
  keepalive_requests 100000000;
  client_body_temp_path /tmp; proxy_temp_path /tmp; fastcgi_temp_path /tmp; uwsgi_temp_path /tmp; scgi_temp_path /tmp;
  server {{ listen {port}; location / {{ return 200 "ok"; }} }}
}}
"""


def spec(app, port, extra_dir, work, guarded):
    labels = {"sigdrain.io/guard": "true" if guarded else "false"}
    if app == "thread":
        return apps.spec_for("d", port, extra_dir, labels)
    if app in ("go", "jvm"):
        return apps.spec_for(app, port, extra_dir, labels)
    bench_apps = Mount(os.path.join(REPO, "bench", "apps"), "/bench")
    if app == "shell":
        return Spec(["/usr/bin/sh", "/bench/fork_per_request.sh", str(port)], port, {}, [bench_apps], labels)
    if app == "nginx":
        conf_dir = os.path.join(work, f"nginx-{port}")
        os.makedirs(conf_dir, exist_ok=True)
        with open(os.path.join(conf_dir, "nginx.conf"), "w") as f:
            f.write(NGINX_CONF.format(port=port))
        return Spec(["/usr/sbin/nginx", "-e", "stderr", "-c", "/nginx/nginx.conf"], port, {},
                    [Mount(conf_dir, "/nginx")], labels)
    raise ValueError(app)


UNITS_MS = {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60000.0}


def to_ms(text):
    m = re.fullmatch(r"([0-9.]+)(us|ms|s|m)", text)
    if not m:
        raise ValueError(f"wrk latency {text!r}")
    return float(m.group(1)) * UNITS_MS[m.group(2)]


def cgroup_cpu_counter(pid):
    """Where the CPU time of the process's cgroup (the app's init and all it forks) is counted: cgroup v2's cpu.stat
    where the cpu controller is there, else cgroup v1's cpuacct.usage (this host mounts both: v1 controllers and a
    controller-less v2 at /sys/fs/cgroup/unified)."""
    with open(f"/proc/{pid}/cgroup") as f:
        lines = [line.split(":", 2) for line in f.read().splitlines()]
    for _, controllers, path in lines:
        if controllers == "":
            for root in ("/sys/fs/cgroup", "/sys/fs/cgroup/unified"):
                stat = os.path.join(root, path.lstrip("/"), "cpu.stat")
                if os.path.exists(stat):
                    with open(stat) as f:
                        if any(line.startswith("usage_usec ") for line in f):
                            return stat
    for _, controllers, path in lines:
        if "cpuacct" in controllers.split(","):
            for mount in ("cpuacct", "cpu,cpuacct", "cpuacct,cpu"):
                usage = os.path.join("/sys/fs/cgroup", mount, path.lstrip("/"), "cpuacct.usage")
                if os.path.exists(usage):
                    return usage
    raise RuntimeError(f"no CPU accounting found for the cgroup of pid {pid}: {lines}")


def cpu_usage_us(counter):
    """The cgroup's CPU time so far (us) from cgroup_cpu_counter()'s file."""
    with open(counter) as f:
        if counter.endswith("cpuacct.usage"):
            return int(f.read()) / 1000.0  # ns
        return next(int(line.split()[1]) for line in f if line.startswith("usage_usec "))


def wrk(app, port, secs, cpu_counter=None):
    """One wrk run: requests/s, p99 and max latency (ms), how many requests timed out or failed, and with
    cpu_counter the app's CPU per request (us, its cgroup's usage over the requests wrk counted)."""
    argv = ["wrk", "-t1", f"-c{app.connections}", f"-d{secs}s", "--latency", "--timeout", "10s"]
    if app.close_each:
        argv += ["-H", "Connection: close"]
    cpu_before = cpu_usage_us(cpu_counter) if cpu_counter else 0
    out = subprocess.run(argv + [f"http://127.0.0.1:{port}{app.path}"], capture_output=True, text=True,
                         timeout=secs + 30).stdout
    cpu_used = cpu_usage_us(cpu_counter) - cpu_before if cpu_counter else 0
    try:
        requests = int(re.search(r"^\s+(\d+) requests in", out, re.M).group(1))
        rps = float(re.search(r"^Requests/sec:\s+([0-9.]+)", out, re.M).group(1))
        p99 = to_ms(re.search(r"^\s+99%\s+(\S+)", out, re.M).group(1))
        longest = to_ms(re.search(r"^\s+Latency\s+\S+\s+\S+\s+(\S+)", out, re.M).group(1))
    except (AttributeError, ValueError) as e:
        raise RuntimeError(f"cannot read wrk's output ({e}): {out[-400:]}")
    errors = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    timeouts = int(errors.group(4)) if errors else 0
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    result = {"rps": rps, "p99_ms": p99, "max_ms": longest, "timeouts": timeouts, "requests": requests,
              "non2xx": int(non2xx.group(1)) if non2xx else 0, "connect_errors": int(errors.group(1)) if errors else 0}
    if cpu_counter and requests:
        result["cpu_us_per_request"] = cpu_used / requests
    return result


def answers(port):
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=2) as r:
            return r.status == 200
    except OSError:
        return False


class Daemon:
    def __init__(self, binary, work):
        self.binary, self.state = binary, os.path.join(work, "state")
        self.err_path = os.path.join(work, "daemon.err")
        # --labelled-only: it guards only the containers labelled here, never a neighbour's.
        self.proc = subprocess.Popen([binary, "daemon", "--labelled-only", "--state-dir", self.state,
                                      "--bpf-pin-dir", "none"], stdout=subprocess.DEVNULL,
                                     stderr=open(self.err_path, "wb"))

    def log(self):
        return open(self.err_path, errors="replace").read()

    def wait_line(self, *words, timeout_s=20):
        def find():
            if self.proc.poll() is not None:
                raise RuntimeError(f"the daemon exited {self.proc.returncode}: {self.log()[-400:]}")
            return any(all(w in line for w in words) for line in self.log().splitlines())
        wait_for(find, timeout_s, f"a daemon log line with {words}", 0.1)

    def pause(self):
        self.proc.send_signal(signal.SIGSTOP)
        wait_for(lambda: open(f"/proc/{self.proc.pid}/stat").read().rsplit(")", 1)[1].split()[0] == "T", 5,
                 "the daemon to stop", 0.01)

    def resume(self):
        self.proc.send_signal(signal.SIGCONT)

    def stop(self):
        if self.proc.poll() is None:
            self.resume()
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


def median(rows, key):
    return statistics.median(r[key] for r in rows)


def verdict(ok):
    return "met" if ok else "MISSED"


# Two pairs of containers per app, made in this order on consecutive ports: guarded first in pair 0, unguarded first
# in pair 1. Rounds alternate between the pairs, so creation order and port fall on both variants alike (with one
# pair, the guarded container was always made first on the first port, and the shell app's ratio moved from 0.94 to
# 0.977 when that order was swapped by hand).
LAYOUT = ((0, True), (0, False), (1, False), (1, True))  # (pair, guarded) in creation order; the port is the index


def measure(app, podman, daemon, extra_dir, work, ports, args):
    """Figures 7 and 12 for one app: prints its lines and returns its figures; raises when it cannot measure."""
    made = []
    try:
        pairs = ({}, {})
        for (pair, guarded), port in zip(LAYOUT, ports):
            name = f"{PREFIX}gc-{app.key}-{'g' if guarded else 'u'}{pair}"
            subprocess.run(["podman", "rm", "-f", "-t", "0", name], capture_output=True, timeout=60)
            c = podman.run(name, spec(app.key, port, extra_dir, work, guarded))
            made.append(c)
            # One answer is the proof (the shell app refuses while it forks its next listener).
            state = wait_for(lambda: "up" if answers(port) else (None if podman.running(c) else "gone"), 90,
                             f"{name} to answer", 0.2)
            if state != "up":
                logs = subprocess.run(["podman", "logs", "--tail", "3", name], capture_output=True, text=True,
                                      timeout=30)
                said = " | ".join((logs.stdout + logs.stderr).split("\n")).strip(" |")
                raise RuntimeError(f"{name} exited before it answered: {said or 'it printed nothing'}")
            daemon.wait_line("guarding" if guarded else "observing", name)
            pairs[pair][guarded] = c
        for pair in pairs:
            if tracer_pid(pair[True].init_pid) != 0:
                raise RuntimeError(f"the guarded init {pair[True].init_pid} is traced between stops")
        cpu_counters = {c.port: cgroup_cpu_counter(c.init_pid) for c in made}
        for c in made:
            wrk(app, c.port, 1)  # warm-up: JIT, caches, the first connections
        rounds = {True: [], False: []}
        paired_ratios, paired_p99_ms, paired_cpu = [], [], []
        for r in range(args.rounds):
            pair = pairs[r % 2]
            results = {}
            for guarded in ((True, False) if (r // 2) % 2 == 0 else (False, True)):
                res = wrk(app, pair[guarded].port, args.secs, cpu_counters[pair[guarded].port])
                res["pair"] = r % 2
                results[guarded] = res
                rounds[guarded].append(res)
                print(f"  {app.key:6} round {r} pair {r % 2} {'guarded  ' if guarded else 'unguarded'} "
                      f"{res['rps']:9.0f} req/s  p99 {res['p99_ms']:8.2f} ms  max {res['max_ms']:8.2f} ms  "
                      f"CPU {res.get('cpu_us_per_request', 0):8.1f} us/request"
                      + (f"  timeouts {res['timeouts']}" if res["timeouts"] else ""), flush=True)
            paired_ratios.append(results[True]["rps"] / results[False]["rps"])
            paired_p99_ms.append(results[True]["p99_ms"] - results[False]["p99_ms"])
            if all("cpu_us_per_request" in results[g] for g in (True, False)):
                paired_cpu.append(results[True]["cpu_us_per_request"] / results[False]["cpu_us_per_request"])
        # Each round's two runs are back to back on one pair: their ratio (and p99 difference) cancels the host's
        # drift between rounds, and the median keeps one round's stall on a busy host from deciding the figure.
        ratio = statistics.median(paired_ratios)
        mean, half = interval(paired_ratios)
        added = statistics.median(paired_p99_ms)
        print(f"guard cost, {app.what}: throughput {ratio:.3f} of unguarded (median of {len(paired_ratios)} paired "
              f"rounds; mean {mean:.3f} +- {half:.3f}) vs goal >= {THROUGHPUT_GOAL}, {verdict(ratio >= THROUGHPUT_GOAL)}")
        print(f"guard cost, {app.what}: p99 {added:+.2f} ms vs goal <= {P99_GOAL_MS} ms, {verdict(added <= P99_GOAL_MS)}")
        # The app's own CPU per request: what guarding costs it, less moved than throughput by wrk and the host's
        # other tenants sharing the CPUs. Judged as figure 10 is: met when the whole interval is inside the goal,
        # missed when it is wholly outside, else unresolved.
        cpu_figure = None
        if len(paired_cpu) >= 2:
            cpu_mean, cpu_half = interval(paired_cpu)
            cpu_judged = judge(cpu_mean, cpu_half, CPU_GOAL)
            cpu_figure = {"median": statistics.median(paired_cpu), "mean": cpu_mean, "half_width": cpu_half,
                          "paired": paired_cpu, "verdict": cpu_judged}
            print(f"guard cost, {app.what}: CPU per request {cpu_mean:.3f} +- {cpu_half:.3f} of unguarded (median "
                  f"{cpu_figure['median']:.3f}) vs goal <= {CPU_GOAL}, {cpu_judged}")

        windows = {True: [], False: []}  # paused?
        for r in range(args.pause_rounds):
            for paused in ((True, False) if r % 2 == 0 else (False, True)):
                if paused:
                    daemon.pause()
                try:
                    res = wrk(app, pairs[r % 2][True].port, args.pause_secs)
                finally:
                    if paused:
                        daemon.resume()
                windows[paused].append(res)
                print(f"  {app.key:6} window {r} daemon {'SIGSTOPped' if paused else 'running   '} "
                      f"{res['rps']:9.0f} req/s  max {res['max_ms']:8.2f} ms  timeouts {res['timeouts']}", flush=True)
        grown = median(windows[True], "max_ms") - median(windows[False], "max_ms")
        timeouts = sum(w["timeouts"] for w in windows[True])
        print(f"paused daemon ({args.pause_secs} s SIGSTOP), {app.what}: longest request {grown:+.1f} ms "
              f"({median(windows[True], 'max_ms'):.1f} vs {median(windows[False], 'max_ms'):.1f} ms, {timeouts} timed out)"
              f" vs goal <= {PAUSE_GOAL_MS:.0f} ms, {verdict(grown <= PAUSE_GOAL_MS and timeouts == 0)}")
        return {"what": app.what, "measured": True,
                "throughput_ratio": ratio, "paired_ratios": paired_ratios,
                "ratio_mean": mean, "ratio_half_width": half, "paired_p99_ms": paired_p99_ms,
                "cpu_per_request": cpu_figure, "added_p99_ms": added,
                "guarded": rounds[True], "unguarded": rounds[False],
                "pause_secs": args.pause_secs, "longest_growth_ms": grown, "paused_timeouts": timeouts,
                "paused": windows[True], "running": windows[False]}
    finally:
        for c in made:
            podman.remove(c)


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--sigdrain", default=os.path.join(REPO, "build", "sigdrain"))
    p.add_argument("--apps", default=",".join(APPS), help="comma-separated: " + ", ".join(APPS))
    p.add_argument("--rounds", type=int, default=8,
                   help="figure 7: rounds per variant, alternating between the two pairs (default 8, as make bench)")
    p.add_argument("--secs", type=int, default=2, help="figure 7: seconds per round (default 2)")
    p.add_argument("--pause-rounds", type=int, default=2, help="figure 12: windows per variant (default 2)")
    p.add_argument("--pause-secs", type=int, default=5, help="figure 12: window and SIGSTOP length (default 5)")
    p.add_argument("--port", type=int, default=18191, help="first of the four ports per app (default 18191)")
    p.add_argument("--out", help="write the figures as JSON here (bench_report's guard_cost.json)")
    args = p.parse_args()
    chosen = [a for a in args.apps.split(",") if a]
    unknown = [a for a in chosen if a not in APPS]
    if unknown or args.rounds < 1 or args.secs < 1 or args.pause_rounds < 1 or args.pause_secs < 1:
        print(f"guard_cost: bad arguments: {unknown or 'rounds, secs must be >= 1'}", file=sys.stderr)
        return 2
    rootfs = os.environ.get("SIGDRAIN_E2E_ROOTFS", "/var/lib/sigdrain-e2e/rootfs")
    podman = Podman(rootfs)
    failed = []
    figures = {"goals": {"throughput_ratio_min": THROUGHPUT_GOAL, "added_p99_ms_max": P99_GOAL_MS,
                         "cpu_ratio_max": CPU_GOAL,
                         "longest_growth_ms_max": PAUSE_GOAL_MS},
               "rounds": args.rounds, "secs": args.secs, "pause_rounds": args.pause_rounds, "apps": {}}
    try:
        measure_all(args, chosen, podman, figures["apps"], failed)
    finally:  # what was measured is kept, also when the daemon or an app's set-up failed
        if args.out:
            with open(args.out, "w") as f:
                json.dump(figures, f, indent=1)
    return 1 if failed else 0


def measure_all(args, chosen, podman, figures, failed):
    """Runs figures 7 and 12 for each chosen app into figures[app]; an app that cannot be measured gets its reason."""
    with tempfile.TemporaryDirectory(prefix="sd-guard-cost.") as work:
        extra_dir = None
        if {"go", "jvm"} & set(chosen):
            try:
                extra_dir = apps.build_extra(os.path.join(work, "extra"))
            except (RuntimeError, OSError, subprocess.SubprocessError) as e:
                print(f"guard cost, go and jvm: not measured: {e}")
                for key in ("go", "jvm"):
                    if key in chosen:
                        failed.append(key)
                        figures[key] = {"what": APPS[key].what, "measured": False, "reason": str(e)}
                chosen = [a for a in chosen if a not in ("go", "jvm")]
        daemon = Daemon(os.path.realpath(args.sigdrain), work)
        try:
            daemon.wait_line("started: state in", timeout_s=30)
            for i, key in enumerate(chosen):
                app = APPS[key]
                try:
                    figures[key] = measure(app, podman, daemon, extra_dir or work, work,
                                           tuple(args.port + len(LAYOUT) * i + k for k in range(len(LAYOUT))), args)
                except Exception as e:  # one app's failure is its own line; the others still run
                    print(f"guard cost, {app.what}: not measured: {type(e).__name__}: {e}")
                    figures[key] = {"what": app.what, "measured": False, "reason": f"{type(e).__name__}: {e}"}
                    failed.append(key)
        finally:
            daemon.stop()


if __name__ == "__main__":
    sys.exit(main())

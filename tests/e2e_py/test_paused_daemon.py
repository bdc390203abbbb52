"""A SIGSTOPped daemon (a CPU-throttled pod, a stuck page fault, a debugger) costs a guarded app nothing (issue #12):
nothing of the app is traced between stops, so its threads, SIGCHLDs and the Go runtime's SIGURGs never wait for
the daemon. The always-attached daemon of old hung every request here until it resumed."""
import os
import signal
import time
import urllib.request

import pytest

from conftest import http_ok
from runtimes import tracer_pid, wait_for

GUARDED = {"sigdrain.io/guard": "true"}
# A thread per connection (http.server) and the Go runtime (SIGURG preemption) on the three runtimes.
CASES = [("podman", "d"), ("podman", "go"), ("docker", "go"), ("containerd", "d")]
PAUSE_REQUESTS = 20  # 0.25 s apart: the daemon is stopped for about 5 s
# A traced app would wait for the daemon's resume (5 s) or hit the 4 s client timeout; an untraced one answers
# in milliseconds. The bound only tells those apart; the latencies are printed.
SLOWEST_MS = 1000


def request_ms(port):
    start = time.monotonic()
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=4) as r:
        r.read()
    return (time.monotonic() - start) * 1000


def latencies(port, n):
    out = []
    for _ in range(n):
        out.append(request_ms(port))
        time.sleep(0.25)
    return out


@pytest.mark.parametrize("runtime,app_id", CASES, ids=[f"{rt}-{app}" for rt, app in CASES])
def test_paused_daemon_costs_nothing(daemon, containers, runtime, app_id):
    c = containers.start(runtime, app_id, labels=GUARDED)
    daemon.wait_guarding(c)
    assert c.init_pid > 0
    before = latencies(c.port, 8)
    os.kill(daemon.proc.pid, signal.SIGSTOP)
    try:
        paused = latencies(c.port, PAUSE_REQUESTS)
        traced_by = tracer_pid(c.init_pid)
    finally:
        os.kill(daemon.proc.pid, signal.SIGCONT)
    print(f"{runtime}-{app_id}: slowest {max(before):.1f} ms with the daemon running, {max(paused):.1f} ms "
          f"while it was stopped ({len(paused)} requests), median {sorted(paused)[len(paused) // 2]:.1f} ms")
    assert traced_by == 0, f"the init of {c.name} is traced by {traced_by} between stops"
    assert max(paused) < SLOWEST_MS, f"a request waited {max(paused):.0f} ms while the daemon was stopped"
    wait_for(lambda: http_ok(daemon.metrics_port, "/readyz"), 10, "the resumed daemon's /readyz", 0.1)

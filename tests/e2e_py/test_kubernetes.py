"""Kubernetes semantics on containerd driven as the kubelet drives it (ctr -n k8s.io, CRI cgroups and annotations,
StopContainer = SIGTERM, the grace period, SIGKILL): the daemon's deadline follows the pod's
terminationGracePeriod when the annotation is there and default-timeout otherwise, and sigdrain.io/min-drain-ms
keeps an idle pod's stop held for the endpoint-removal lag."""
import concurrent.futures
import time

import pytest

from conftest import http_ok, wait_requests_in_flight

DEFAULT_TIMEOUT_S = 8
DAEMON_SETTINGS = {"default-timeout": DEFAULT_TIMEOUT_S}
GUARDED = {"sigdrain.io/guard": "true"}  # the daemon guards labelled containers only (conftest.Daemon)
NEVER_IDLE_LAG_MS = 30000  # clients keep coming for longer than any grace period here: only a deadline ends it


def reserve_s(timeout_s):
    """The daemon's reserve for the plan and the app's exit (docs/daemon.md): timeout/4 clamped to 1-10 s."""
    return min(max(timeout_s / 4, 1), 10)


def stop_never_idle(daemon, containers, loadgen, grace_s, kubelet_grace_s, annotate):
    c = containers.start("containerd", "go", labels=GUARDED, stop_timeout_s=grace_s, annotate_grace=annotate)
    daemon.wait_guarding(c)
    lg = loadgen(c.port, NEVER_IDLE_LAG_MS)
    wait_requests_in_flight(lg)
    lg.begin_stop()
    stop = c.runtime.stop(c, kubelet_grace_s)
    lg.kill()
    daemon.wait_log("holding", c.name, timeout_s=1)
    record = daemon.stop_record(c)
    assert record["drain"]["released_by"] == "deadline", record["drain"]
    return stop


def test_deadline_follows_a_grace_period_shorter_than_the_default(daemon, containers, loadgen):
    grace_s = 5  # < default-timeout 8: a daemon that used the default would release at 6 s, after the SIGKILL at 5 s
    stop = stop_never_idle(daemon, containers, loadgen, grace_s, grace_s, annotate=True)
    deadline_ms = (grace_s - reserve_s(grace_s)) * 1000
    print(f"grace {grace_s} s: stopped after {stop.elapsed_ms} ms (drain deadline {deadline_ms:.0f} ms), "
          f"SIGKILL needed: {stop.runtime_killed}, exit {stop.exit_code}")
    assert not stop.runtime_killed, f"the plan did not land before the kubelet's SIGKILL at {grace_s} s"
    assert deadline_ms - 500 <= stop.elapsed_ms < grace_s * 1000, "held until the grace period's deadline"


def test_deadline_follows_default_timeout_without_the_annotation(daemon, containers, loadgen):
    kubelet_grace_s = 15  # what the kubelet waits; the container does not say so
    stop = stop_never_idle(daemon, containers, loadgen, kubelet_grace_s, kubelet_grace_s, annotate=False)
    deadline_ms = (DEFAULT_TIMEOUT_S - reserve_s(DEFAULT_TIMEOUT_S)) * 1000
    print(f"no grace annotation: stopped after {stop.elapsed_ms} ms (default-timeout {DEFAULT_TIMEOUT_S} s, drain "
          f"deadline {deadline_ms:.0f} ms), SIGKILL needed: {stop.runtime_killed}")
    assert not stop.runtime_killed
    assert deadline_ms - 500 <= stop.elapsed_ms < DEFAULT_TIMEOUT_S * 1000, "held until default-timeout's deadline"


MIN_DRAIN_MS = 5000
LATE_REQUEST_AT_S = 2.5  # after the quiet window (1 s) of an idle pod, inside the min-drain


@pytest.mark.parametrize("min_drain", [True, False], ids=["min-drain", "control"])
def test_min_drain_serves_a_request_after_the_quiet_window(daemon, containers, min_drain):
    labels = {**GUARDED, "sigdrain.io/min-drain-ms": str(MIN_DRAIN_MS)} if min_drain else GUARDED
    c = containers.start("containerd", "go", labels=labels, stop_timeout_s=20)
    daemon.wait_guarding(c)
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        started = time.monotonic()
        stopping = pool.submit(c.runtime.stop, c, 20)
        # The scenario's timeline, not a wait: the endpoint's removal lags, one more request comes.
        time.sleep(LATE_REQUEST_AT_S)
        late_ok = http_ok(c.port, "/slow?ms=300", timeout=5)
        stop = stopping.result(30)
    print(f"min-drain {'on' if min_drain else 'off'}: request at {LATE_REQUEST_AT_S} s answered: {late_ok}; stop "
          f"{stop.elapsed_ms} ms ({time.monotonic() - started:.1f} s), SIGKILL needed: {stop.runtime_killed}")
    assert not stop.runtime_killed
    assert daemon.stop_record(c)["drain"]["released_by"] == "idle"
    if min_drain:
        assert late_ok, "the request inside the min-drain was not served"
        assert stop.elapsed_ms >= MIN_DRAIN_MS - 100, "released before the min-drain"
        assert stop.elapsed_ms < MIN_DRAIN_MS + 3000, "held long past the min-drain and the quiet window after it"
    else:
        assert not late_ok, "without min-drain the idle pod should have stopped after its quiet window"
        assert stop.elapsed_ms < LATE_REQUEST_AT_S * 1000

"""`sigdrain daemon` with a plain runtime stop under load, for every runtime and app: no request fails, and the stop
ends about the quiet window plus the app's own exit after the last response, long before the runtime's SIGKILL.
Between stops nothing of the container is traced (the stop gate attaches at the runtime's kill, issue #12)."""
import pytest

from apps import APPS
from conftest import wait_requests_in_flight
from runtimes import syscall_tracepoints, tracer_pid

STOP_TIMEOUT_S = 20
DAEMON_SETTINGS = {"default-timeout": STOP_TIMEOUT_S}

GUARDED = {"sigdrain.io/guard": "true"}  # the daemon guards labelled containers only (conftest.Daemon)
RUNTIMES = ("podman", "docker", "containerd")
CASES = [(rt, app) for rt in RUNTIMES for app in APPS]


@pytest.mark.parametrize("runtime,app_id", CASES, ids=[f"{rt}-{app}" for rt, app in CASES])
def test_guarded_stop_under_load(daemon, containers, loadgen, runtime, app_id):
    app = APPS[app_id]
    c = containers.start(runtime, app_id, labels=GUARDED, stop_timeout_s=STOP_TIMEOUT_S)
    daemon.wait_guarding(c)
    row = daemon.ps_row(c)
    assert row["guarded"] and row["state"] == "running" and row["backend"] == "ptrace at stop", row
    assert tracer_pid(c.init_pid) == 0, f"init {c.init_pid} is traced before any stop"
    assert not syscall_tracepoints(daemon.proc.pid), "between stops the daemon puts no syscall on the slow path"
    lg = loadgen(c.port, 1200)
    wait_requests_in_flight(lg)
    lg.begin_stop()
    stop = c.runtime.stop(c, STOP_TIMEOUT_S)
    load = lg.result()
    last_ok = load["last_ok_ms_after_stop"]
    print(f"{runtime}-{app_id}: stop {stop.elapsed_ms} ms, exit {stop.exit_code}, sent {load['sent']}, failed "
          f"{load['failed']} {load['errors']}, last response {last_ok} ms after the stop began")
    assert load["failed"] == 0, f"{app.what}: {load['failed']} requests failed: {load['errors']}"
    assert load["ok"] > 0 and last_ok is not None
    assert not stop.runtime_killed, f"{runtime} had to SIGKILL after {stop.elapsed_ms} ms"
    assert stop.elapsed_ms <= last_ok + app.exit_budget_ms, (
        f"the stop took {stop.elapsed_ms} ms, more than {app.exit_budget_ms} ms after the last response ({last_ok} ms)")
    # The hold came through the gate: the runtime's own kill process was stopped and the daemon attached then.
    daemon.wait_log("gate: runtime kill SIGTERM of", c.name, "seized", timeout_s=1)
    daemon.wait_log("holding", c.name, timeout_s=1)
    record = daemon.stop_record(c)
    assert record["drain"]["released_by"] == "idle", record["drain"]
    assert record["exit"]["outcome"] == "graceful", record["exit"]
    assert record["exit"]["code"] is not None or record["exit"]["killed_by"] is not None, (
        f"the exit-code programs were not attached during the stop: {record['exit']}")

"""Without sigdrain: a plain `docker stop` under load fails each app the way tests/e2e/README.md's baseline shows.
One runtime only (docker), to keep `make test` short; the bash tier's baseline.sh covers podman. These cases are the
control of test_daemon.py: the same load and stop, with the daemon absent."""
import pytest

from apps import APPS
from conftest import wait_requests_in_flight

STOP_TIMEOUT_S = 5
UNGUARDED = {"sigdrain.io/guard": "false"}  # a daemon someone else runs must not hold these stops


@pytest.mark.parametrize("app_id", list(APPS))
def test_plain_stop_fails_as_the_baseline(containers, loadgen, app_id):
    app = APPS[app_id]
    c = containers.start("docker", app_id, labels=UNGUARDED, stop_timeout_s=STOP_TIMEOUT_S)
    # The load balancer's lag outlasts the longest request (the load generator's 1-2 s): an app that drains and
    # exits (a) is then still sent requests after its exit, which is what a plain stop loses. With a lag shorter
    # than the drain, a drain that happened to outlast it lost nothing and the baseline failed for no fault.
    lg = loadgen(c.port, 2500)
    wait_requests_in_flight(lg)
    lg.begin_stop()
    stop = c.runtime.stop(c, STOP_TIMEOUT_S)
    load = lg.result()
    print(f"{app_id}: docker stop {stop.elapsed_ms} ms, exit {stop.exit_code}, failed {load['failed']} "
          f"{load['errors']}, last response {load['last_ok_ms_after_stop']} ms after the stop began")
    if app.plain_stop == "lost":
        assert load["failed"] > 0, f"{app.what}: a plain stop lost nothing ({load})"
    else:
        assert stop.runtime_killed, f"{app.what}: ended in {stop.elapsed_ms} ms, before docker's SIGKILL"

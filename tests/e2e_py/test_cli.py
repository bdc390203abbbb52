"""The CLI against Docker's engine and containerd-as-kubelet: `check` and `safe-stop` name a container by name and
by id; `trace` attributes the runtime's SIGTERM and SIGKILL to the right container, for every runtime."""
import json
import os
import signal
import socket
import subprocess
import tempfile

import pytest

from conftest import wait_requests_in_flight
from runtimes import wait_for

UNGUARDED = {"sigdrain.io/guard": "false"}  # a daemon someone else runs must not hold these stops
SAFE_STOP_TIMEOUT_S = 10


def container_ref(c, by):
    return c.name if by == "name" else c.id


def sigdrain(binary, *args, timeout=60):
    return subprocess.run([binary, *args], capture_output=True, text=True, timeout=timeout)


@pytest.mark.parametrize("runtime", ["docker", "containerd"])
def test_check_by_name_and_by_id(sigdrain_bin, containers, runtime):
    c = containers.start(runtime, "d", labels=UNGUARDED)
    for by in ("name", "id"):
        p = sigdrain(sigdrain_bin, "check", container_ref(c, by), "--json")
        assert p.returncode == 0, f"check by {by}: exit {p.returncode}: {p.stderr}"
        report = json.loads(p.stdout)
        assert report["container"]["id"] == c.id and report["container"]["runtime"] == runtime, report["container"]
        assert report["profile"] == "no-handler", report
        assert report["init"]["pid"] == c.init_pid
        assert "SIGTERM is dropped" in report["plain_stop"], report["plain_stop"]
        if runtime == "containerd":
            assert report["timeout_s"] == 20, "the pod's terminationGracePeriod is the stop timeout"


@pytest.mark.parametrize("by", ["name", "id"])
@pytest.mark.parametrize("runtime", ["docker", "containerd"])
def test_safe_stop_under_load(sigdrain_bin, containers, loadgen, runtime, by):
    c = containers.start(runtime, "f", labels=UNGUARDED)
    lg = loadgen(c.port, 1200)
    wait_requests_in_flight(lg)
    lg.begin_stop()
    p = sigdrain(sigdrain_bin, "safe-stop", container_ref(c, by), "--timeout", str(SAFE_STOP_TIMEOUT_S), "--json")
    load = lg.result()
    assert p.returncode == 0, f"safe-stop by {by}: exit {p.returncode}: {p.stderr}"
    report = json.loads(p.stdout)
    print(f"{runtime} by {by}: plan {report['plan']['steps']}, drain {report['drain']}, exit {report['exit']}, "
          f"failed {load['failed']}")
    assert report["exit"]["outcome"] == "graceful", report["exit"]
    assert report["plan"]["profile"] == "gunicorn"
    assert report["drain"]["released_by"] == "idle", report["drain"]
    assert load["failed"] == 0, load["errors"]
    assert not c.runtime.running(c)


def trace_events(path):
    return [json.loads(line) for line in open(path) if line.strip()]


@pytest.mark.parametrize("runtime", ["podman", "docker", "containerd"])
def test_trace_attributes_the_runtimes_signals(sigdrain_bin, containers, runtime):
    c = containers.start(runtime, "d", labels=UNGUARDED, stop_timeout_s=2)
    out = tempfile.NamedTemporaryFile("w+", suffix=".jsonl")
    tracer = subprocess.Popen([sigdrain_bin, "trace", "--json", "--container", c.name, "--duration", "40"],
                              stdout=out, stderr=subprocess.PIPE, text=True)
    try:
        # Attached once it reports a signal to the container: SIGCONT, which changes nothing for a running process.
        def sees_probe():
            assert tracer.poll() is None, f"trace exited {tracer.returncode}: {tracer.stderr.read()}"
            os.kill(c.init_pid, signal.SIGCONT)
            return any(e.get("signal") == "SIGCONT" for e in trace_events(out.name))
        wait_for(sees_probe, 20, "trace to see a signal to the container", 0.2)
        stop = c.runtime.stop(c, 2)
        assert stop.runtime_killed, f"{runtime} ended the no-handler PID 1 without its SIGKILL ({stop})"
        wait_for(lambda: tracer.poll() is not None, 15, "trace to end with the container")
    finally:
        if tracer.poll() is None:
            tracer.send_signal(signal.SIGINT)
            tracer.wait(10)
    events = trace_events(out.name)
    to_init = [e for e in events if e["event"] == "signal" and e["target"]["pid"] == c.init_pid]
    term = [e for e in to_init if e["signal"] == "SIGTERM"]
    kill = [e for e in to_init if e["signal"] == "SIGKILL"]
    dump = "\n".join(json.dumps(e) for e in events)
    assert term and kill, f"no SIGTERM and SIGKILL to init {c.init_pid}:\n{dump}"
    for e in (term[0], kill[0]):
        container = e["target"]["container"]
        assert container and container["id"] == c.id and container["runtime"] == runtime, container
        assert e["target"]["ns_pid"] == 1
    assert term[0]["sender"]["comm"].startswith("runc"), f"SIGTERM sender {term[0]['sender']}, want the runtime's runc"
    assert term[0]["result"] == "ignored", term[0]
    exits = [e for e in events if e["event"] == "exit" and e["pid"] == c.init_pid]
    assert exits and exits[0].get("killed_by") == "SIGKILL", exits


def test_safe_stop_of_a_host_network_pod_ignores_the_hosts_connections(sigdrain_bin, containers):
    """containerd's containers here share the host's network, as hostNetwork pods do: their /proc/<pid>/net/tcp
    lists every connection of the host. One to another container's published port (docker-proxy, on the host)
    stays open through the stop and must not count as the pod's request in flight."""
    other = containers.start("docker", "d", labels=UNGUARDED)
    pod = containers.start("containerd", "go", labels=UNGUARDED)
    with socket.create_connection(("127.0.0.1", other.port)) as held:
        held.sendall(f"GET /slow?ms=30000 HTTP/1.1\r\nHost: 127.0.0.1:{other.port}\r\n\r\n".encode())
        p = sigdrain(sigdrain_bin, "safe-stop", pod.name, "--timeout", str(SAFE_STOP_TIMEOUT_S), "--json")
    assert p.returncode == 0, p.stderr
    report = json.loads(p.stdout)
    print(f"host-network pod: drain {report['drain']}, total {report['total_ms']} ms")
    assert report["drain"]["released_by"] == "idle", f"the host's connection held the drain: {report['drain']}"

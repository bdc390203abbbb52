"""Fixtures of the runtime matrix: the engines, the image, the runtimes, containers of each app, the load generator
and the sigdrain daemon. Each fixture undoes what it did in its teardown, also when the test failed; waits are on
conditions (an HTTP answer, /readyz, a log line, a process's exit), never fixed sleeps."""
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import apps  # noqa: E402
import runtimes  # noqa: E402
from runtimes import DOCKER, PREFIX, run, wait_for  # noqa: E402

REPO = os.path.realpath(os.path.join(HERE, "..", ".."))
LOADGEN = os.path.join(REPO, "tests", "e2e", "loadgen.py")
READY_AFTER = 6  # responses before a stop: with 4 clients of 1-2 s requests, about 2.5 s of load


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def http_ok(port, path="/", timeout=2):
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=timeout) as r:
            return r.status == 200
    except (OSError, urllib.error.URLError):
        return False


def end_process(proc, signo, grace_s):
    """Sends signo to a process this run started, and SIGKILL if it is still there after grace_s."""
    if proc is None or proc.poll() is not None:
        return
    proc.send_signal(signo)
    try:
        proc.wait(grace_s)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


# ---- machine ----------------------------------------------------------------------------------------------------

@pytest.fixture(scope="session")
def sigdrain_bin():
    path = os.path.realpath(os.environ.get("SIGDRAIN", os.path.join(REPO, "build", "sigdrain")))
    if not os.access(path, os.X_OK):
        pytest.fail(f"no sigdrain binary at {path} (make build, or set SIGDRAIN)")
    if os.geteuid() != 0:
        pytest.fail("the runtime matrix needs root")
    other = other_daemons()
    if other:
        pytest.fail(f"a sigdrain daemon already runs on this host ({other[0]}); it would guard the tests' "
                    "labelled containers before theirs does: stop it first")
    return path


def other_daemons():
    """'pid: argv' of each `sigdrain daemon` running now (tests/e2e/running_daemons.sh)."""
    p = subprocess.run([os.path.join(REPO, "tests", "e2e", "running_daemons.sh")], capture_output=True, text=True,
                       timeout=20)
    return p.stdout.splitlines()


@pytest.fixture(scope="session")
def rootfs():
    path = os.environ.get("SIGDRAIN_E2E_ROOTFS", "/var/lib/sigdrain-e2e/rootfs")
    if not os.path.exists(os.path.join(path, "etc", "passwd")):
        pytest.fail(f"no rootfs skeleton at {path}: run scripts/podman-setup.sh")
    return path


class Engine:
    """containerd or dockerd: started here only when not running, and then stopped here too."""

    def __init__(self, name, argv, ready, log_path):
        self.name, self.argv, self.ready, self.log_path = name, argv, ready, log_path
        self.proc = None

    def ensure(self):
        if self.ready():
            return
        self.proc = subprocess.Popen(self.argv, stdout=open(self.log_path, "wb"), stderr=subprocess.STDOUT,
                                     start_new_session=True)
        wait_for(lambda: self.proc.poll() is not None or self.ready(), 60, f"{self.name} to start", 0.2)
        if self.proc.poll() is not None:
            raise RuntimeError(f"{self.name} exited {self.proc.returncode}: {open(self.log_path).read()[-500:]}")

    def stop_if_started(self):
        end_process(self.proc, signal.SIGTERM, 30)


@pytest.fixture(scope="session")
def workdir():
    d = tempfile.mkdtemp(prefix=f"{PREFIX}pytest.")
    yield d
    subprocess.run(["rm", "-rf", d])


def answers(argv, timeout_s=5):
    """True when the engine's client gets an answer; a client that keeps retrying a missing socket (ctr does, for
    as long as it is let) means not running, not a failed test."""
    try:
        return run(argv, check=False, timeout=timeout_s).returncode == 0
    except subprocess.TimeoutExpired:
        return False


@pytest.fixture(scope="session")
def engines(workdir):
    containerd = Engine("containerd", ["containerd"],
                        lambda: os.path.exists("/run/containerd/containerd.sock") and answers(["ctr", "version"]),
                        os.path.join(workdir, "containerd.log"))
    dockerd = Engine("dockerd", ["dockerd", "--containerd=/run/containerd/containerd.sock"],
                     lambda: os.path.exists("/var/run/docker.sock") and answers([DOCKER, "info"]),
                     os.path.join(workdir, "dockerd.log"))
    started = []
    try:
        for engine in (containerd, dockerd):
            engine.ensure()
            started.append(engine)
        yield
    finally:
        for engine in reversed(started):  # dockerd before the containerd it uses
            engine.stop_if_started()


@pytest.fixture(scope="session")
def image(engines, rootfs):
    """The rootfs skeleton as an image in docker's store and in containerd's k8s.io namespace."""
    tar = subprocess.Popen(["tar", "-C", rootfs, "-c", "."], stdout=subprocess.PIPE)
    run([DOCKER, "import", "-", runtimes.IMAGE], input_bytes=tar.stdout.read())
    tar.wait()
    saved = run([DOCKER, "save", runtimes.IMAGE]).stdout
    run(["ctr", "-n", runtimes.CTR_NS, "images", "import", "-"], input_bytes=saved)
    yield runtimes.IMAGE
    run(["ctr", "-n", runtimes.CTR_NS, "images", "rm", f"docker.io/{runtimes.IMAGE}"], check=False)
    run([DOCKER, "rmi", runtimes.IMAGE], check=False)


@pytest.fixture(scope="session")
def all_runtimes(image, rootfs):
    rts = {"docker": runtimes.Docker(), "containerd": runtimes.ContainerdAsKubelet(), "podman": runtimes.Podman(rootfs)}
    for rt in rts.values():
        if not rt.available():
            pytest.fail(f"{rt.name} is not available here (scripts/setup.sh installs it)")
        rt.remove_leftovers()
    yield rts
    for rt in rts.values():
        rt.remove_leftovers()


@pytest.fixture(scope="session")
def extra_dir(workdir):
    return apps.build_extra(os.path.join(workdir, "extra"))


# ---- containers -------------------------------------------------------------------------------------------------

class Containers:
    def __init__(self, all_runtimes, extra_dir, test_name):
        self.runtimes, self.extra_dir = all_runtimes, extra_dir
        self.tag = "".join(ch if ch.isalnum() else "-" for ch in test_name)[-40:].strip("-")
        self.made = []

    def start(self, runtime, app_id, labels=None, stop_timeout_s=20, annotate_grace=True, ready_timeout_s=60):
        rt = self.runtimes[runtime]
        port = free_port()
        name = f"{PREFIX}{app_id}-{runtime}-{port}"
        spec = apps.spec_for(app_id, port, self.extra_dir, labels, stop_timeout_s, annotate_grace)
        c = rt.run(name, spec)
        self.made.append(c)
        wait_for(lambda: http_ok(port) or not rt.running(c), ready_timeout_s, f"{name} to answer on {port}", 0.2)
        if not http_ok(port):
            raise AssertionError(f"{name} exited before it answered on port {port}")
        return c

    def cleanup(self):
        for c in self.made:
            c.runtime.remove(c)


@pytest.fixture
def containers(all_runtimes, extra_dir, request):
    cs = Containers(all_runtimes, extra_dir, request.node.name)
    yield cs
    cs.cleanup()


# ---- load generator ---------------------------------------------------------------------------------------------

class LoadGen:
    """tests/e2e/loadgen.py: clients looping /slow?ms=1000..2000; begin_stop() marks "stop began"."""

    def __init__(self, port, lb_lag_ms, extra):
        self.out = tempfile.TemporaryFile()
        self.proc = subprocess.Popen([sys.executable, LOADGEN, "--port", str(port), "--lb-lag", str(lb_lag_ms),
                                      "--timeout", "15", "--max-duration", "90", "--ready-after", str(READY_AFTER),
                                      *extra], stdout=self.out, stderr=subprocess.PIPE)
        os.set_blocking(self.proc.stderr.fileno(), False)
        self.stderr = b""
        self.began = None

    def ready(self):
        assert self.proc.poll() is None, f"the load generator exited {self.proc.returncode} before the stop"
        self.stderr += self.proc.stderr.read() or b""
        return b"loadgen: ready" in self.stderr

    def begin_stop(self):
        self.began = time.monotonic()
        self.proc.send_signal(signal.SIGUSR1)

    def result(self, timeout_s=90):
        """The load generator's JSON line; a load generator that fails or hangs fails the test."""
        try:
            code = self.proc.wait(timeout_s)
        except subprocess.TimeoutExpired:
            raise AssertionError(f"the load generator did not finish within {timeout_s} s")
        assert code == 0, f"loadgen.py exited {code}"
        self.out.seek(0)
        text = self.out.read().decode()
        result = json.loads(text)
        assert result["failed_before_stop"] == 0, f"requests failed before the stop began: {result}"
        return result

    def kill(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        self.out.close()


@pytest.fixture
def loadgen():
    made = []

    def start(port, lb_lag_ms=1200, *extra):
        lg = LoadGen(port, lb_lag_ms, extra)
        made.append(lg)
        return lg

    yield start
    for lg in made:
        lg.kill()


def wait_requests_in_flight(lg, timeout_s=20):
    """Waits until the load is steady: the load generator's clients have had READY_AFTER responses, so requests
    are staggered and new ones keep arriving while the stop runs (the bash tier slept 2.5 s for that)."""
    wait_for(lg.ready, timeout_s, "the load generator's first responses")


# ---- the daemon -------------------------------------------------------------------------------------------------

class Daemon:
    def __init__(self, binary, directory, settings):
        self.binary, self.directory = binary, directory
        os.makedirs(directory, exist_ok=True)
        self.metrics_port = free_port()
        self.config = os.path.join(directory, "daemon.conf")
        # guard = labelled, and the containers of test_daemon/test_kubernetes are labelled sigdrain.io/guard=true:
        # on a shared machine a daemon guarding all would hold other people's stops (tests/e2e/daemon.sh tests
        # guard = all). JSON: one stop record per line on stdout.
        self.state_dir = os.path.join(directory, "state")
        # Its own pins, removed when it stops (release()): a pinned daemon's socket programs stay attached after it
        # exits, and the default directory's would outlive the test run on this host.
        pins = f"/sys/fs/bpf/sigdrain-e2e-py-{os.getpid()}-{os.path.basename(directory)}"
        conf = {"state-dir": self.state_dir, "metrics-address": f"127.0.0.1:{self.metrics_port}",
                "log-format": "json", "guard": "labelled", "bpf-pin-dir": pins, **settings}
        self.pins = conf["bpf-pin-dir"]
        with open(self.config, "w") as f:
            f.writelines(f"{k} = {v}\n" for k, v in conf.items())
        self.stdout_path = os.path.join(directory, "daemon.out")
        self.stderr_path = os.path.join(directory, "daemon.err")
        self.proc = None

    def start(self):
        self.proc = subprocess.Popen([self.binary, "daemon", "--config", self.config],
                                     stdout=open(self.stdout_path, "ab"), stderr=open(self.stderr_path, "ab"))
        wait_for(lambda: self.proc.poll() is not None or http_ok(self.metrics_port, "/readyz"), 30,
                 "the daemon's /readyz", 0.1)
        if self.proc.poll() is not None:
            raise AssertionError(f"the daemon exited {self.proc.returncode}: {self.log()[-800:]}")

    def log(self):
        return open(self.stderr_path, errors="replace").read()

    def stop_record(self, container, timeout_s=5):
        """The stop record of a container (its "container" object names it)."""
        def find():
            return next((r for r in self.records() if container.id in json.dumps(r.get("container", r))), None)
        return wait_for(find, timeout_s, f"the daemon's stop record of {container.name}")

    def records(self):
        """The stop records on stdout (JSON objects). Only a last line still being written may be cut short; any
        other line that does not parse is a daemon bug and fails the test."""
        text = open(self.stdout_path, errors="replace").read()
        complete = text[:text.rfind("\n") + 1]
        return [json.loads(line) for line in complete.splitlines() if line.strip().startswith("{")]

    def wait_log(self, *words, timeout_s=15):
        """Waits for a log line holding every word; returns it."""
        def find():
            assert self.proc.poll() is None, f"the daemon died ({self.proc.returncode}): {self.log()[-800:]}"
            return next((line for line in self.log().splitlines() if all(w in line for w in words)), None)
        return wait_for(find, timeout_s, f"a daemon log line with {words}")

    def ps_row(self, container):
        """The container's row of `sigdrain ps --json` (one JSON object per container)."""
        p = subprocess.run([self.binary, "ps", "--json", "--state-dir", self.state_dir], capture_output=True,
                           text=True, timeout=20)
        assert p.returncode == 0, f"sigdrain ps exited {p.returncode}: {p.stderr}"
        rows = [json.loads(line) for line in p.stdout.splitlines() if line.strip()]
        row = next((r for r in rows if r.get("id") == container.id), None)
        assert row is not None, f"{container.name} is not in sigdrain ps: {p.stdout[:800]}"
        return row

    def wait_guarding(self, container, timeout_s=15):
        return self.wait_log("guarding", container.name, timeout_s=timeout_s)

    def stop(self):
        end_process(self.proc, signal.SIGINT, 20)  # SIGINT: the daemon finishes the drains in progress and exits

    def release(self):
        """Removes its pins (after stop()), as an uninstall does."""
        if self.pins == "none":
            return
        p = subprocess.run([self.binary, "daemon", "--unpin", "--config", self.config], capture_output=True,
                           text=True, timeout=20)
        assert p.returncode == 0, f"sigdrain daemon --unpin exited {p.returncode}: {p.stderr}"


@pytest.fixture(scope="module")
def daemon(sigdrain_bin, all_runtimes, workdir, request):
    settings = getattr(request.module, "DAEMON_SETTINGS", {})
    d = Daemon(sigdrain_bin, os.path.join(workdir, f"daemon-{request.module.__name__}"), settings)
    try:
        d.start()
        yield d
    finally:
        try:
            d.stop()
            tail = d.log().splitlines()[-15:]
            print(f"\n--- daemon log ({request.module.__name__}), last lines\n  " + "\n  ".join(tail))
        finally:
            d.release()  # also when stop() failed: its pins must not outlive the run

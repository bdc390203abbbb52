"""The container runtimes under test, driven the way their users drive them, behind one small interface.

  podman      `podman --runtime runc run --rootfs ROOTFS ...`, `podman stop -t T`
  docker      the engine's own client /usr/bin/docker: `docker run IMAGE ...`, `docker stop -t T`
  containerd  `ctr -n k8s.io` as the kubelet drives containerd through CRI: the container's cgroup is
              /kubepods/besteffort/pod<uid>/<id>, its OCI annotations are the CRI plugin's
              (io.kubernetes.cri.container-type, sandbox-name, ...; io.kubernetes.pod.terminationGracePeriod when the
              test gives a grace period), and StopContainer is SIGTERM, the grace period, then SIGKILL.

Every object is named with PREFIX and labelled LABEL=OWNER, so that remove_leftovers() removes what an aborted run
left behind and nothing of anyone else's. No method sleeps a fixed time: each waits for a condition.
"""
import json
import os
import select
import shutil
import subprocess
import time
import uuid
from dataclasses import dataclass, field

PREFIX = os.environ.get("SIGDRAIN_PYTEST_PREFIX", "sdC-")
LABEL = "sigdrain.test"
OWNER = PREFIX.rstrip("-")
DOCKER = "/usr/bin/docker"  # the engine's client; /usr/local/bin/docker may be an unrelated newer one
IMAGE = f"{OWNER.lower()}/rootfs:1"  # the owner's own (docker wants lower case); containerd's is docker.io/<it>
CTR_NS = "k8s.io"
COMMAND_TIMEOUT_S = 60


class CommandFailed(Exception):
    """A runtime command failed: the test fails with the command and its stderr."""


def run(argv, timeout=COMMAND_TIMEOUT_S, check=True, input_bytes=None):
    p = subprocess.run(argv, capture_output=True, timeout=timeout, input=input_bytes)
    if check and p.returncode != 0:
        raise CommandFailed(f"{' '.join(argv[:6])}... exited {p.returncode}: {p.stderr.decode(errors='replace')[:500]}")
    return p


def wait_for(condition, timeout_s, what, interval_s=0.05):
    """Polls condition() until it returns something true, and returns that; raises TimeoutError naming `what`."""
    deadline = time.monotonic() + timeout_s
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() >= deadline:
            raise TimeoutError(f"timed out after {timeout_s} s waiting for {what}")
        time.sleep(interval_s)


def wait_pid_exit(pidfd, timeout_s):
    """True if the process behind pidfd exited within timeout_s."""
    ready, _, _ = select.select([pidfd], [], [], max(timeout_s, 0))
    return bool(ready)



def tracer_pid(pid):
    """The pid tracing `pid` (0: none), from /proc/<pid>/status."""
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("TracerPid:"):
                return int(line.split()[1])
    raise AssertionError(f"/proc/{pid}/status has no TracerPid line")

def syscall_tracepoints(pid):
    """The syscalls:* tracepoints a process has BPF programs on (`bpftool perf list`): while there is any, every
    syscall of every task on the node takes the kernel's syscall tracing slow path."""
    out = subprocess.run(["bpftool", "-j", "perf", "list"], capture_output=True, text=True, check=True).stdout
    return sorted(e["tracepoint"] for e in json.loads(out or "[]")
                  if e.get("pid") == pid and e.get("tracepoint", "").startswith("sys_"))


@dataclass
class Mount:
    host: str
    container: str


@dataclass
class Spec:
    """What to run: the command, its environment, the port it serves on, and the container's metadata."""
    command: list
    port: int
    env: dict = field(default_factory=dict)
    mounts: list = field(default_factory=list)
    labels: dict = field(default_factory=dict)  # docker/podman labels; OCI annotations for containerd
    stop_timeout_s: int = 10  # docker/podman --stop-timeout; containerd: the pod's grace period
    annotate_grace: bool = True  # containerd: write io.kubernetes.pod.terminationGracePeriod


@dataclass
class Container:
    runtime: "Runtime"
    name: str
    id: str
    port: int
    spec: Spec
    init_pid: int = 0


@dataclass
class StopResult:
    elapsed_ms: int  # from the stop's start until the container's init was gone (the runtime's command returned)
    runtime_killed: bool  # the runtime reached its timeout and sent SIGKILL
    exit_code: object = None


class Runtime:
    name = "?"

    def available(self):
        raise NotImplementedError

    def run(self, name, spec):
        raise NotImplementedError

    def stop(self, container, timeout_s):
        raise NotImplementedError

    def running(self, container):
        raise NotImplementedError

    def remove(self, container):
        raise NotImplementedError

    def remove_leftovers(self):
        raise NotImplementedError


class Docker(Runtime):
    name = "docker"

    def available(self):
        return run([DOCKER, "info", "--format", "{{.ServerVersion}}"], check=False, timeout=20).returncode == 0

    def _mounts(self, spec):
        out = ["-v", "/usr:/usr:ro"]
        for m in spec.mounts:
            out += ["-v", f"{m.host}:{m.container}:ro"]
        return out

    def run(self, name, spec):
        argv = [DOCKER, "run", "-d", "--name", name, "--label", f"{LABEL}={OWNER}", "-w", "/app",
                "--stop-timeout", str(spec.stop_timeout_s), "-p", f"127.0.0.1:{spec.port}:{spec.port}"]
        for k, v in spec.labels.items():
            argv += ["--label", f"{k}={v}"]
        for k, v in spec.env.items():
            argv += ["-e", f"{k}={v}"]
        argv += self._mounts(spec) + [IMAGE] + spec.command
        cid = run(argv).stdout.decode().strip()
        c = Container(self, name, cid, spec.port, spec)
        c.init_pid = int(self._inspect(c, "{{.State.Pid}}") or 0)
        return c

    def _inspect(self, c, fmt):
        p = run([DOCKER, "inspect", "-f", fmt, c.id], check=False)
        return p.stdout.decode().strip() if p.returncode == 0 else None

    def stop(self, c, timeout_s):
        start = time.monotonic()
        run([DOCKER, "stop", "-t", str(timeout_s), c.id], timeout=timeout_s + 30)
        elapsed = int((time.monotonic() - start) * 1000)
        code = self._inspect(c, "{{.State.ExitCode}}")
        # docker stop sends SIGKILL at the timeout; it does not say so, its wall time does.
        return StopResult(elapsed, elapsed >= timeout_s * 1000 - 100, int(code) if code else None)

    def running(self, c):
        return self._inspect(c, "{{.State.Running}}") == "true"

    def remove(self, c):
        run([DOCKER, "rm", "-f", c.id], check=False)

    def remove_leftovers(self):
        ids = run([DOCKER, "ps", "-aq", "--filter", f"label={LABEL}={OWNER}"], check=False).stdout.decode().split()
        if ids:
            run([DOCKER, "rm", "-f", *ids], check=False)


class Podman(Runtime):
    name = "podman"

    def __init__(self, rootfs):
        self.rootfs = rootfs

    def available(self):
        return shutil.which("podman") is not None and shutil.which("runc") is not None

    def run(self, name, spec):
        argv = ["podman", "--runtime", "runc", "run", "-d", "--name", name, "--label", f"{LABEL}={OWNER}",
                "-w", "/app", "--tmpfs", "/tmp", "--stop-timeout", str(spec.stop_timeout_s),
                "-p", f"127.0.0.1:{spec.port}:{spec.port}", "-v", "/usr:/usr:ro"]
        for m in spec.mounts:
            argv += ["-v", f"{m.host}:{m.container}:ro"]
        for k, v in spec.labels.items():
            argv += ["--label", f"{k}={v}"]
        for k, v in spec.env.items():
            argv += ["-e", f"{k}={v}"]
        argv += ["--rootfs", self.rootfs] + spec.command
        cid = run(argv).stdout.decode().strip().splitlines()[-1]
        c = Container(self, name, cid, spec.port, spec)
        c.init_pid = int(self._inspect(c, "{{.State.Pid}}") or 0)
        return c

    def _inspect(self, c, fmt):
        p = run(["podman", "inspect", "-f", fmt, c.id], check=False)
        return p.stdout.decode().strip() if p.returncode == 0 else None

    def stop(self, c, timeout_s):
        start = time.monotonic()
        p = run(["podman", "stop", "-t", str(timeout_s), c.id], timeout=timeout_s + 30)
        elapsed = int((time.monotonic() - start) * 1000)
        code = self._inspect(c, "{{.State.ExitCode}}")
        killed = b"resorting to SIGKILL" in p.stderr or elapsed >= timeout_s * 1000 - 100
        return StopResult(elapsed, killed, int(code) if code else None)

    def running(self, c):
        return self._inspect(c, "{{.State.Running}}") == "true"

    def remove(self, c):
        run(["podman", "rm", "-f", "-t", "0", c.id], check=False)

    def remove_leftovers(self):
        ids = run(["podman", "ps", "-aq", "--filter", f"label={LABEL}={OWNER}"], check=False).stdout.decode().split()
        for cid in ids:
            run(["podman", "rm", "-f", "-t", "0", cid], check=False)


class ContainerdAsKubelet(Runtime):
    """containerd's k8s.io namespace, containers made and stopped as the kubelet's CRI calls do."""
    name = "containerd"
    image = f"docker.io/{IMAGE}"
    task_dir = "/run/containerd/io.containerd.runtime.v2.task/" + CTR_NS

    def available(self):
        return shutil.which("ctr") is not None and run(["ctr", "version"], check=False, timeout=20).returncode == 0

    def _ctr(self, *args, **kw):
        return run(["ctr", "-n", CTR_NS, *args], **kw)

    def run(self, name, spec):
        cid = uuid.uuid4().hex + uuid.uuid4().hex  # 64 hex digits, as CRI's ids
        pod_uid = str(uuid.uuid4())
        annotations = {
            "io.kubernetes.cri.container-type": "container",
            "io.kubernetes.cri.container-name": name,
            "io.kubernetes.cri.sandbox-name": f"{name}-pod",
            "io.kubernetes.cri.sandbox-namespace": "default",
            "io.kubernetes.cri.sandbox-uid": pod_uid,
            **spec.labels,
        }
        if spec.annotate_grace:
            annotations["io.kubernetes.pod.terminationGracePeriod"] = str(spec.stop_timeout_s)
        argv = ["run", "-d", "--net-host", "--cgroup", f"/kubepods/besteffort/pod{pod_uid}/{cid}",
                "--label", f"{LABEL}={OWNER}", "--label", f"{LABEL}.name={name}", "--cwd", "/app",
                "--mount", "type=bind,src=/usr,dst=/usr,options=rbind:ro"]
        for m in spec.mounts:
            argv += ["--mount", f"type=bind,src={m.host},dst={m.container},options=rbind:ro"]
        for k, v in annotations.items():
            argv += ["--annotation", f"{k}={v}"]
        for k, v in spec.env.items():
            argv += ["--env", f"{k}={v}"]
        argv += [self.image, cid] + spec.command
        self._ctr(*argv)
        c = Container(self, name, cid, spec.port, spec)
        c.init_pid = wait_for(lambda: self._init_pid(c), 20, f"the init pid of {name}")
        return c

    def _init_pid(self, c):
        try:
            return int(open(f"{self.task_dir}/{c.id}/init.pid").read().strip() or 0)
        except (OSError, ValueError):
            return 0

    def stop(self, c, timeout_s):
        """CRI StopContainer: SIGTERM through the shim, the grace period, then SIGKILL."""
        pidfd = os.pidfd_open(c.init_pid)
        try:
            start = time.monotonic()
            self._ctr("task", "kill", "-s", "SIGTERM", c.id)
            exited = wait_pid_exit(pidfd, timeout_s - (time.monotonic() - start))
            if not exited:
                self._ctr("task", "kill", "-s", "SIGKILL", c.id)
                wait_pid_exit(pidfd, 10)
            elapsed = int((time.monotonic() - start) * 1000)
        finally:
            os.close(pidfd)
        wait_for(lambda: not self.running(c), 10, f"containerd to see {c.name} stopped")
        return StopResult(elapsed, not exited, self._exit_code(c))

    def _exit_code(self, c):
        # `ctr task rm` of a stopped task warns "... exit with non-zero exit code N", and says nothing for 0.
        p = self._ctr("task", "rm", c.id, check=False)
        err = p.stderr.decode()
        if "exit code" in err:
            return int(err.rsplit("exit code", 1)[1].split()[0].strip('"'))
        return 0 if p.returncode == 0 else None

    def running(self, c):
        p = self._ctr("task", "ls", check=False)
        for line in p.stdout.decode().splitlines()[1:]:
            parts = line.split()
            if parts and parts[0] == c.id:
                return parts[-1] == "RUNNING"
        return False

    def remove(self, c):
        self._ctr("task", "rm", "-f", c.id, check=False)
        self._ctr("container", "rm", c.id, check=False)

    def remove_leftovers(self):
        ids = self._ctr("container", "ls", "-q", f'labels."{LABEL}"=={OWNER}', check=False).stdout.decode().split()
        for cid in ids:
            self._ctr("task", "rm", "-f", cid, check=False)
            self._ctr("container", "rm", cid, check=False)

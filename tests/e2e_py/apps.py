"""The app scenarios: tests/e2e/apps (a-f, see tests/e2e/README.md) plus a Go net/http server and a JVM HttpServer
built or copied at test time into a directory mounted at /extra. Each serves / and /slow?ms=N on its port."""
import os
import shutil
import subprocess
from dataclasses import dataclass

from runtimes import Mount, Spec

HERE = os.path.dirname(os.path.abspath(__file__))
BASH_APPS = os.path.join(HERE, "..", "e2e", "apps")
EXTRA = "/extra"
GO_CACHE = os.environ.get("SIGDRAIN_E2E_GOCACHE", "/var/cache/sigdrain-e2e/go-build")


@dataclass(frozen=True)
class App:
    id: str
    what: str
    # What a plain stop does to it, from the baseline (tests/e2e/README.md): "lost" (requests cut or reset) or
    # "killed" (the stop signal does not end it: SIGKILL at the timeout).
    plain_stop: str
    # ms after the last response within which a guarded stop must have ended: the quiet window (1 s), the plan's
    # own pauses, the app's exit and the runtime's clean-up.
    exit_budget_ms: int = 3500


APPS = {
    "a": App("a", "Flask, SIGTERM handler drains inline", "lost"),
    "b": App("b", "uWSGI (SIGTERM = brutal reload)", "lost"),
    # supervisord: a 500 ms pause in its plan, and it acts on signals in a loop of up to 1 s.
    "c": App("c", "supervisord running uWSGI", "killed", 5000),
    "d": App("d", "http.server PID 1 without a SIGTERM handler", "killed"),
    "e": App("e", "d behind `sh -c`", "killed"),
    "f": App("f", "gunicorn, 4 sync workers", "lost"),
    "go": App("go", "Go net/http, no signal handling (the runtime exits on SIGTERM)", "lost"),
    "jvm": App("jvm", "JDK HttpServer, `java Server.java`", "lost"),
}


def build_extra(directory):
    """Builds the Go server and copies the JVM server's source into `directory` (mounted at /extra)."""
    os.makedirs(directory, exist_ok=True)
    # A build cache kept across runs: compiling net/http from nothing takes a minute on a busy 2-core machine.
    env = dict(os.environ, CGO_ENABLED="0", GOCACHE=GO_CACHE, GOFLAGS="-trimpath")
    env.setdefault("HOME", "/root")
    p = subprocess.run(["go", "build", "-o", os.path.join(directory, "go_http"),
                        os.path.join(HERE, "apps", "go_http.go")], env=env, timeout=600, capture_output=True)
    if p.returncode != 0:
        raise RuntimeError(f"go build failed: {p.stderr.decode(errors='replace')[-800:]}")
    shutil.copy(os.path.join(HERE, "apps", "Server.java"), directory)
    return directory


def java_binary():
    """The JDK's java by its real path: /usr/bin/java is a link through the host's /etc/alternatives, which the
    containers' rootfs does not have."""
    java = shutil.which("java")
    if not java:
        raise FileNotFoundError("java missing: scripts/setup.sh installs openjdk-17-jdk-headless")
    real = os.path.realpath(java)
    if not real.startswith("/usr/"):
        raise FileNotFoundError(f"java resolves to {real}, outside /usr (the containers see only /usr)")
    return real


def java_config_dir(java):
    """Debian's JDK keeps its configuration (java.security, ...) in /etc, linked from JAVA_HOME/conf."""
    security = os.path.realpath(os.path.join(os.path.dirname(java), "..", "conf", "security", "java.security"))
    return os.path.dirname(os.path.dirname(security))  # /etc/java-17-openjdk


def spec_for(app_id, port, extra_dir, labels=None, stop_timeout_s=10, annotate_grace=True):
    env = {"PORT": str(port), "PYTHONDONTWRITEBYTECODE": "1", "PYTHONUNBUFFERED": "1"}
    uwsgi = ["uwsgi", "--plugin", "python3", "--http-socket", f":{port}", "--master", "--processes", "2",
             "--threads", "2", "--need-app", "--disable-logging", "--wsgi-file", "/app/wsgi_app.py"]
    if app_id == "a":
        env["FLASK_TRAP_DRAIN"] = "inline"
        command = ["python3", "/app/flask_trap.py", str(port)]
    elif app_id == "b":
        command = uwsgi
    elif app_id == "c":
        command = ["supervisord", "-n", "-c", "/app/supervisord.conf"]
    elif app_id == "d":
        command = ["python3", "/app/plain_http.py", str(port)]
    elif app_id == "e":
        # The trailing echo keeps sh from exec'ing python3: the shell stays PID 1 and python3 is its child.
        command = ["sh", "-c", f"python3 /app/plain_http.py {port}; echo plain_http exited"]
    elif app_id == "f":
        command = ["gunicorn", "-w", "4", "-k", "sync", "--graceful-timeout", "10", "-b", f"0.0.0.0:{port}",
                   "--chdir", "/app", "wsgi_app:app"]
    elif app_id == "go":
        command = [f"{EXTRA}/go_http", str(port)]
    elif app_id == "jvm":
        command = [java_binary(), "-Xshare:auto", "-XX:TieredStopAtLevel=1", f"{EXTRA}/Server.java", str(port)]
    else:
        raise ValueError(f"unknown app {app_id}")
    # Commands by name: PATH inside the container is the image's default, /usr/bin among it.
    if command[0] in ("python3", "uwsgi", "supervisord", "sh", "gunicorn"):
        command[0] = "/usr/bin/" + command[0]
    mounts = [Mount(os.path.realpath(BASH_APPS), "/app"), Mount(extra_dir, EXTRA)]
    if app_id == "jvm":
        mounts.append(Mount(java_config_dir(command[0]), java_config_dir(command[0])))
    return Spec(command, port, env, mounts, dict(labels or {}), stop_timeout_s, annotate_grace)

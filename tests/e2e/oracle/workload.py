#!/usr/bin/env python3
"""The signal workload of the sigsnoop oracle test (tests/e2e/oracle_sigsnoop.sh).

`workload.py host OUT_DIR CGROUP_DIR` runs the cases below on the host, starts the same cases inside a pid
namespace in CGROUP_DIR (a scratch cgroup named like a podman container) as `workload.py container OUT_DIR`, and
signals one target inside it from outside. Each role writes OUT_DIR/<role>.jsonl: one line per target with its
host pid, the dispositions it set up (signal number -> default | ignore | handler | blocked) and the raw wait
status its parent saw; and one line for the role itself (its own SIGCHLD disposition).

Signals are sent with kill, tkill, tgkill, rt_sigqueueinfo (sigqueue) and pidfd_send_signal; the kernel makes
SIGCHLD, SIGPIPE, SIGSEGV and SIGALRM.
"""
import ctypes
import json
import os
import platform
import resource
import signal
import subprocess
import sys
import threading
import time

libc = ctypes.CDLL(None, use_errno=True)
SYSCALLS = {"x86_64": {"tkill": 200, "tgkill": 234}, "aarch64": {"tkill": 130, "tgkill": 131}}[platform.machine()]

S = signal.Signals
# name -> (setup, action, sends, exit_on): setup {signal: disposition}; action: what the target does once set up
# ("wait", or makes a kernel signal: "pipe", "segv", "alarm", "grandchild" = a child that exits, for SIGCHLD);
# sends: (how, signal) in order; exit_on {signal: code}: that signal's handler calls _exit(code).
CASES = {
    "default": ({S.SIGWINCH: "default", S.SIGUSR1: "default"}, "wait", [("kill", S.SIGWINCH), ("kill", S.SIGUSR1)], {}),
    "ignore": ({S.SIGUSR1: "ignore", S.SIGTERM: "default"}, "wait", [("kill", S.SIGUSR1), ("tkill", S.SIGTERM)], {}),
    "handler": ({S.SIGUSR2: "handler", S.SIGHUP: "handler", S.SIGUSR1: "handler"}, "wait",
                [("sigqueue", S.SIGUSR2), ("pidfd", S.SIGHUP), ("tgkill", S.SIGUSR1)], {S.SIGUSR1: 7}),
    "blocked": ({S.SIGUSR1: "blocked", S.SIGTERM: "default"}, "wait", [("kill", S.SIGUSR1), ("kill", S.SIGTERM)], {}),
    "blocked-fatal-kill": ({S.SIGINT: "blocked"}, "wait", [("sigqueue", S.SIGINT), ("kill", S.SIGKILL)], {}),
    "pipe": ({S.SIGPIPE: "default"}, "pipe", [], {}),
    "segv": ({S.SIGSEGV: "default"}, "segv", [], {}),
    "alarm": ({S.SIGALRM: "default"}, "alarm", [], {}),
    "alarm-handler": ({S.SIGALRM: "handler"}, "alarm", [], {S.SIGALRM: 0}),
    "grandparent": ({S.SIGCHLD: "default", S.SIGTERM: "handler"}, "grandchild", [("pidfd", S.SIGTERM)], {S.SIGTERM: 3}),
    # A second thread blocks SIGUSR1 (the main thread does not): tgkill to that thread finds it blocked, a
    # process-directed SIGTERM kills.
    "thread": ({S.SIGUSR1: "blocked", S.SIGUSR2: "handler", S.SIGTERM: "default"}, "thread",
               [("tgkill-thread", S.SIGUSR1), ("tgkill-thread", S.SIGUSR2), ("kill", S.SIGTERM)], {}),
}
# Signalled from the host while it runs in the container's pid namespace.
CROSS_CASE = ({S.SIGHUP: "handler", S.SIGUSR2: "handler"}, "wait", None, {S.SIGUSR2: 5})


def host_pid(path="/proc/self/status"):
    """This process's (or thread's) pid in the initial namespace: /proc is the host's (no mount namespace), so
    NSpid starts there."""
    with open(path) as f:
        for line in f:
            if line.startswith("NSpid:"):
                return int(line.split()[1])
    return os.getpid()


def make_handler(code):
    def handler(signum, frame):
        if code is not None:
            os._exit(code)
    return handler


def run_target(setup, action, exit_on, ready_fd):
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    for sig, disposition in setup.items():
        if disposition == "ignore":
            signal.signal(sig, signal.SIG_IGN)
        elif disposition == "handler":
            signal.signal(sig, make_handler(exit_on.get(sig)))
        else:
            signal.signal(sig, signal.SIG_DFL)
    blocked = [sig for sig, d in setup.items() if d == "blocked"]
    thread_ids = ""
    if action == "thread":
        ready = threading.Event()
        ids = {}

        def thread_body():
            signal.pthread_sigmask(signal.SIG_BLOCK, blocked)
            ids["ns"], ids["host"] = threading.get_native_id(), host_pid("/proc/thread-self/status")
            ready.set()
            while True:
                time.sleep(3600)
        threading.Thread(target=thread_body, daemon=True).start()
        ready.wait()
        thread_ids = " %d %d" % (ids["ns"], ids["host"])
    elif blocked:
        signal.pthread_sigmask(signal.SIG_BLOCK, blocked)
    if action == "grandchild":
        child = os.fork()
        if child == 0:
            os._exit(0)
        os.waitpid(child, 0)
    os.write(ready_fd, ("%d%s\n" % (host_pid(), thread_ids)).encode())
    os.close(ready_fd)
    if action == "pipe":
        r, w = os.pipe()
        os.close(r)
        os.write(w, b"x")
    elif action == "segv":
        ctypes.string_at(0)
    elif action == "alarm":
        signal.setitimer(signal.ITIMER_REAL, 0.05)
    while True:
        signal.pause()


def spawn(setup, action, exit_on):
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(r)
        try:
            run_target(setup, action, exit_on, w)
        finally:
            os._exit(98)
    os.close(w)
    with os.fdopen(r) as f:
        line = f.readline()
    if not line:
        raise RuntimeError(f"target {pid} ({action}) died before it was ready")
    ids = [int(x) for x in line.split()]  # host pid [, the second thread's tid in the namespace, on the host]
    return pid, ids[0], (ids[1:] or [None, None])


def send(how, pid, sig, tid=None):
    if how == "tgkill-thread":
        rc = libc.syscall(SYSCALLS["tgkill"], pid, tid, int(sig))
    elif how == "kill":
        os.kill(pid, sig)
    elif how == "tkill":
        rc = libc.syscall(SYSCALLS["tkill"], pid, int(sig))
    elif how == "tgkill":
        rc = libc.syscall(SYSCALLS["tgkill"], pid, pid, int(sig))
    elif how == "sigqueue":
        rc = libc.sigqueue(ctypes.c_int(pid), ctypes.c_int(int(sig)), ctypes.c_void_p(42))
    elif how == "pidfd":
        fd = os.pidfd_open(pid)
        try:
            signal.pidfd_send_signal(fd, sig)
        finally:
            os.close(fd)
    else:
        raise ValueError(how)
    if how in ("tkill", "tgkill", "tgkill-thread", "sigqueue") and rc != 0:
        raise OSError(ctypes.get_errno(), f"{how} {pid} {sig}")


def record(out, role, name, pid, hpid, setup, status, host_tid=None):
    out.write(json.dumps({"role": role, "case": name, "pid": hpid, "ns_pid": pid, "tid": host_tid,
                          "setup": {str(int(s)): d for s, d in setup.items()}, "status": status,
                          "exited": os.WEXITSTATUS(status) if status is not None and os.WIFEXITED(status) else None,
                          "signaled": os.WTERMSIG(status) if status is not None and os.WIFSIGNALED(status) else None})
              + "\n")
    out.flush()


def run_cases(role, out):
    for name, (setup, action, sends, exit_on) in CASES.items():
        pid, hpid, (ns_tid, host_tid) = spawn(setup, action, exit_on)
        for how, sig in sends:
            time.sleep(0.02)  # let a handler run before the next signal: deliveries in order, none merged
            send(how, pid, sig, ns_tid)
        _, status = os.waitpid(pid, 0)
        record(out, role, name, pid, hpid, setup, status, host_tid)


def main():
    role, out_dir = sys.argv[1], sys.argv[2]
    # The role's own SIGCHLD (one per target's exit, made by the kernel in the exiting child) reaches a handler.
    signal.signal(signal.SIGCHLD, make_handler(None))
    with open(os.path.join(out_dir, role + ".jsonl"), "w") as out:
        record(out, role, role, os.getpid(), host_pid(), {signal.SIGCHLD: "handler"}, None)
        if role == "container":
            setup, action, _, exit_on = CROSS_CASE
            pid, hpid, _ = spawn(setup, action, exit_on)
            cross = os.path.join(out_dir, "cross.pid")
            with open(cross + ".tmp", "w") as f:
                f.write(str(hpid))
            os.rename(cross + ".tmp", cross)
            run_cases(role, out)
            _, status = os.waitpid(pid, 0)
            record(out, role, "cross", pid, hpid, setup, status)
            return
        cgroup_dir = sys.argv[3]
        container = subprocess.Popen(
            ["sh", "-c", 'echo $$ > "$0/cgroup.procs" && exec unshare --pid --fork --kill-child python3 "$1" container "$2"',
             cgroup_dir, os.path.abspath(__file__), out_dir])
        run_cases(role, out)
        cross = os.path.join(out_dir, "cross.pid")
        deadline = time.monotonic() + 20
        while not os.path.exists(cross):
            if time.monotonic() > deadline or container.poll() is not None:
                raise RuntimeError("the container's cross target never said its pid")
            time.sleep(0.02)
        with open(cross) as f:
            cross_pid = int(f.read())
        send("pidfd", cross_pid, S.SIGHUP)
        time.sleep(0.02)
        send("kill", cross_pid, S.SIGUSR2)
        if container.wait(timeout=30) != 0:
            raise RuntimeError(f"the container role failed: {container.returncode}")


if __name__ == "__main__":
    main()

"""The nginx site the Python benchmarks serve (probe_cost.py, cgroup_programs.py): one worker, a 512-byte file,
no access log, keep-alive without a request limit, everything in the caller's scratch directory; and its client."""
import os
import re
import socket
import subprocess


def port_free(port):
    with socket.socket() as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # a TIME_WAIT of an earlier run is no user
        try:
            s.bind(("127.0.0.1", port))
            return True
        except OSError:
            return False


def nginx_site(scratch, port):
    """Writes the site and its configuration under `scratch` (readable by nginx's worker user); returns the
    configuration's path, for `nginx -c CONF -p SCRATCH`."""
    os.chmod(scratch, 0o755)
    www, tmp = os.path.join(scratch, "www"), os.path.join(scratch, "tmp")
    os.makedirs(www)
    os.makedirs(tmp)
    os.chmod(www, 0o755)
    with open(os.path.join(www, "index.html"), "w") as f:
        f.write("x" * 512)
    conf = os.path.join(scratch, "nginx.conf")
    with open(os.path.join(os.path.dirname(os.path.abspath(__file__)), "nginx.conf.in")) as f:
        template = f.read()
    with open(conf, "w") as f:
        f.write(template.replace("@DIR@", scratch).replace("@PORT@", str(port)))
    return conf


def wrk(url, mode, seconds, cgroup=None):
    """Requests made in `seconds` of wrk, one thread: 32 keep-alive connections (mode "keepalive") or 16 that each
    carry one request ("new_connection"). With `cgroup` (a cgroup v2 directory), wrk runs in it. Exits on an error
    answer or output it cannot read."""
    args = ["wrk", "-t1", f"-d{seconds}s"]
    args += ["-c32"] if mode == "keepalive" else ["-c16", "-H", "Connection: close"]
    if cgroup:
        args = ["sh", "-c", f'echo $$ > {cgroup}/cgroup.procs && exec "$0" "$@"'] + args
    out = subprocess.run(args + [url], capture_output=True, text=True, check=True).stdout
    if "Non-2xx" in out:
        raise SystemExit(f"wrk: nginx answered errors: {out}")
    m = re.search(r"(\d+) requests in", out)
    if not m:
        raise SystemExit(f"wrk: cannot read its output: {out}")
    return int(m.group(1))

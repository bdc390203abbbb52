#!/usr/bin/env python3
"""Load generator for the end-to-end scenarios: C concurrent clients, each looping slow requests against
http://127.0.0.1:PORT (the only host it talks to), and a report of what happened once the container is stopped.

Timeline
  start        C client threads loop GET /slow?ms=<uniform MIN..MAX>; a new connection per request, or one reused
               connection per client with --keepalive (reconnecting after any failure). A client pauses 50 ms
               after a failed request, so a refusing port yields about 20 failures per client and second.
               With --ready-after N, "loadgen: ready" on stderr after the Nth successful response tells a test
               that the load is steady.
  stop began   on SIGUSR1 (send it when `podman stop` starts), or --stop-after S seconds after start if given.
               If neither comes within --max-duration seconds, the run ends anyway (stop_trigger "max-duration").
  +lb-lag      clients keep starting requests for --lb-lag MS (a load balancer that has not yet noticed), then
               start no more.
  end          waits for the requests in flight (each bounded by --timeout), prints one JSON line, exits 0.

Outcome kinds (the "errors" object counts every kind but "ok"):
  refused               connect() refused: nothing listening (app closed its socket, or the container is gone)
  connect_timeout       connect() timed out; connect_error_<ERRNO> any other connect failure
  reset                 connection reset (ECONNRESET/EPIPE) after connecting, before a full response
  closed_no_response    peer closed the connection before sending a status line
  closed_mid_body       peer closed the connection in the middle of the response body
  read_timeout          no full response within --timeout
  http_<code>           a response other than 200; bad_response: unparsable response; bad_body: body not "ok"
  *_reused              (suffix, --keepalive only) the failure happened on a reused connection, i.e. possibly
                        the server had already closed that idle connection (real clients retry these)
"cut" counts reset, closed_no_response and closed_mid_body (with or without _reused): requests the server
accepted and then dropped. Times "*_ms_after_stop" are measured from "stop began"; negative means before it.
"""
import argparse
import http.client
import json
import random
import signal
import socket
import sys
import threading
import time

HOST = "127.0.0.1"
MAX_CONCURRENCY = 64
FAILURE_PAUSE_S = 0.05
CUT_KINDS = ("reset", "closed_no_response", "closed_mid_body")


class StopClock:
    """When "stop began" and when clients must stop starting requests; set once, from a signal or a timer."""

    def __init__(self, lb_lag_s):
        self.lb_lag_s = lb_lag_s
        self.began = None  # time.monotonic() of "stop began"
        self.trigger = None
        self.event = threading.Event()

    def begin(self, trigger):
        if self.began is None:
            self.began = time.monotonic()
            self.trigger = trigger
            self.event.set()

    def may_start_request(self, now):
        return self.began is None or now < self.began + self.lb_lag_s


class Results:
    def __init__(self, ready_after=0):
        self.lock = threading.Lock()
        self.records = []  # (start, end, kind) in time.monotonic() seconds
        self.ready_after = ready_after
        self.ok = 0

    def add(self, start, end, kind):
        with self.lock:
            self.records.append((start, end, kind))
            if kind == "ok":
                self.ok += 1
                if self.ok == self.ready_after:
                    print("loadgen: ready", file=sys.stderr, flush=True)


class RequestBudget:
    def __init__(self, limit):
        self.lock = threading.Lock()
        self.left = limit

    def take(self):
        with self.lock:
            if self.left <= 0:
                return False
            self.left -= 1
            return True


def classify_connect_error(error):
    if isinstance(error, ConnectionRefusedError):
        return "refused"
    if isinstance(error, socket.timeout):
        return "connect_timeout"
    return f"connect_error_{getattr(error, 'errno', None) or type(error).__name__}"


def classify_exchange_error(error):
    # Order matters: RemoteDisconnected is a ConnectionResetError subclass, socket.timeout an OSError.
    if isinstance(error, http.client.RemoteDisconnected):
        return "closed_no_response"
    if isinstance(error, http.client.IncompleteRead):
        return "closed_mid_body"
    if isinstance(error, (ConnectionResetError, BrokenPipeError)):
        return "reset"
    if isinstance(error, socket.timeout):
        return "read_timeout"
    if isinstance(error, http.client.HTTPException):
        return "bad_response"
    return f"error_{type(error).__name__}"


def one_request(conn, path):
    """Sends one GET on conn (connecting if needed); returns (kind, connection still usable)."""
    reused = conn.sock is not None
    if not reused:
        try:
            conn.connect()
        except OSError as error:
            return classify_connect_error(error), False
    try:
        conn.request("GET", path)
        response = conn.getresponse()
        body = response.read()
    except (OSError, http.client.HTTPException) as error:
        kind = classify_exchange_error(error)
        return (kind + "_reused" if reused else kind), False
    if response.status != 200:
        return f"http_{response.status}", not response.will_close
    if body != b"ok":
        return "bad_body", False
    return "ok", not response.will_close


def client_loop(args, clock, budget, results, hard_deadline, rng):
    conn = None
    while True:
        now = time.monotonic()
        if not clock.may_start_request(now) or now >= hard_deadline or not budget.take():
            break
        if conn is None:
            conn = http.client.HTTPConnection(HOST, args.port, timeout=args.timeout)
        path = f"{args.path}?ms={rng.randint(args.min_ms, args.max_ms)}"
        kind, reusable = one_request(conn, path)
        results.add(now, time.monotonic(), kind)
        if not (args.keepalive and reusable):
            conn.close()
            conn = None
        if kind != "ok":
            time.sleep(FAILURE_PAUSE_S)  # no busy loop of refused connects: counts stay comparable between runs
    if conn is not None:
        conn.close()


def ms_after(t, origin):
    return None if t is None or origin is None else round((t - origin) * 1000)


def summarize(args, clock, results, started):
    records = sorted(results.records)
    stop = clock.began
    errors = {}
    for _, _, kind in records:
        if kind != "ok":
            errors[kind] = errors.get(kind, 0) + 1
    ok_ends = [end for _, end, kind in records if kind == "ok"]
    failure_ends = [end for _, end, kind in records if kind != "ok"]
    after_stop = [r for r in records if stop is not None and r[0] >= stop]
    return {
        "sent": len(records),
        "ok": len(ok_ends),
        "failed": len(records) - len(ok_ends),
        "cut": sum(1 for _, _, kind in records if kind.removesuffix("_reused") in CUT_KINDS),
        "refused_after_stop": sum(1 for _, _, kind in after_stop if kind == "refused"),
        "timeouts": sum(1 for _, _, kind in records if kind.endswith("timeout")),
        "errors": dict(sorted(errors.items())),
        "sent_after_stop": len(after_stop),
        "ok_after_stop": sum(1 for _, _, kind in after_stop if kind == "ok"),
        "failed_before_stop": sum(1 for start, end, kind in records if kind != "ok" and (stop is None or end < stop)),
        "last_ok_ms_after_stop": ms_after(max(ok_ends, default=None), stop),
        "first_failure_ms_after_stop": ms_after(min(failure_ends, default=None), stop),
        "stop_ms_after_start": ms_after(stop, started),
        "stop_trigger": clock.trigger,
        "duration_ms": ms_after(time.monotonic(), started),
        "concurrency": args.concurrency,
        "keepalive": args.keepalive,
        "lb_lag_ms": args.lb_lag,
    }


def parse_args(argv):
    parser = argparse.ArgumentParser(
        description="Slow-request load against 127.0.0.1:PORT; SIGUSR1 (or --stop-after) marks 'stop began'.",
        epilog="Example: loadgen.py --port 18080 --concurrency 4 --lb-lag 1000 & ...; kill -USR1 $!; wait $!",
    )
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--concurrency", "-c", type=int, default=4, help=f"clients, 1..{MAX_CONCURRENCY} (4)")
    parser.add_argument("--path", default="/slow", help="request path, ?ms=N is appended (/slow)")
    parser.add_argument("--min-ms", type=int, default=1000, help="shortest server-side sleep (1000)")
    parser.add_argument("--max-ms", type=int, default=2000, help="longest server-side sleep (2000)")
    parser.add_argument("--keepalive", action="store_true", help="reuse one connection per client")
    parser.add_argument("--lb-lag", type=int, default=0, metavar="MS",
                        help="keep starting requests for MS after stop began (0)")
    parser.add_argument("--stop-after", type=float, metavar="S", help="stop begins S seconds after start")
    parser.add_argument("--ready-after", type=int, default=0, metavar="N",
                        help="print 'loadgen: ready' on stderr after N successful responses: the load is steady")
    parser.add_argument("--timeout", type=float, default=10.0, help="per-request socket timeout, seconds (10)")
    parser.add_argument("--max-duration", type=float, default=120.0,
                        help="hard cap on the run before stop, seconds (120)")
    parser.add_argument("--max-requests", type=int, default=10000, help="hard cap on requests sent (10000)")
    parser.add_argument("--seed", type=int, help="random seed for the sleep times")
    args = parser.parse_args(argv)
    if not 1 <= args.port <= 65535:
        parser.error("--port must be 1..65535")
    if not 1 <= args.concurrency <= MAX_CONCURRENCY:
        parser.error(f"--concurrency must be 1..{MAX_CONCURRENCY}")
    if not 0 <= args.min_ms <= args.max_ms <= 60000:
        parser.error("need 0 <= --min-ms <= --max-ms <= 60000")
    if not 0 <= args.lb_lag <= 600000:
        parser.error("--lb-lag must be 0..600000")
    if not 0 < args.timeout <= 300 or not 0 < args.max_duration <= 3600 or args.max_requests < 1:
        parser.error("need 0 < --timeout <= 300, 0 < --max-duration <= 3600, --max-requests >= 1")
    if args.stop_after is not None and not 0 <= args.stop_after <= args.max_duration:
        parser.error("--stop-after must be 0..--max-duration")
    return args


def main(argv):
    args = parse_args(argv)
    started = time.monotonic()
    clock = StopClock(args.lb_lag / 1000.0)
    signal.signal(signal.SIGUSR1, lambda _signum, _frame: clock.begin("sigusr1"))
    budget = RequestBudget(args.max_requests)
    results = Results(args.ready_after)
    # Clients never start a request past this point, whatever happens to the stop trigger.
    hard_deadline = started + args.max_duration + args.lb_lag / 1000.0
    rng = random.Random(args.seed)
    clients = [
        threading.Thread(target=client_loop, args=(args, clock, budget, results, hard_deadline,
                                                   random.Random(rng.random())), daemon=True)
        for _ in range(args.concurrency)
    ]
    for client in clients:
        client.start()

    wait_s = args.stop_after if args.stop_after is not None else args.max_duration
    if not clock.event.wait(wait_s):
        clock.begin("stop-after" if args.stop_after is not None else "max-duration")

    # Each client finishes its current request within the per-request timeout (connect + read can take two).
    join_deadline = time.monotonic() + args.lb_lag / 1000.0 + 2 * args.timeout + 2
    for client in clients:
        client.join(max(0.0, join_deadline - time.monotonic()))
    summary = summarize(args, clock, results, started)
    summary["clients_unfinished"] = sum(1 for client in clients if client.is_alive())
    print(json.dumps(summary), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

"""Scenario a: the classic hand-written fix. A threaded Flask app whose SIGTERM handler waits until no request is
in flight, then exits.

The handler runs in the main thread, which is also the thread running the werkzeug accept loop. So while it waits
(FLASK_TRAP_DRAIN=inline, the default and the common way this is written) nothing new is accepted: the listening
socket stays open, the kernel completes handshakes into the backlog, and those connections are reset at exit.
FLASK_TRAP_DRAIN=thread does the wait in a helper thread instead, so the accept loop keeps serving new requests
(they join the busy list) until it finally sees the list empty.

Port: first argument, else $PORT, else 8080.
  /            answers 200 "ok" at once
  /slow?ms=N   sleeps N ms (0..60000), then answers 200 "ok"
"""
import itertools
import logging
import os
import signal
import sys
import threading
import time

from flask import Flask, g, request

MAX_SLEEP_MS = 60000

app = Flask(__name__)
busy = set()
busy_lock = threading.Lock()
request_ids = itertools.count()


def log(message):
    print(f"flask_trap: {message}", file=sys.stderr, flush=True)


@app.before_request
def mark_busy():
    g.request_id = next(request_ids)
    with busy_lock:
        busy.add(g.request_id)


@app.teardown_request
def mark_done(_error):
    with busy_lock:
        busy.discard(g.get("request_id"))


@app.route("/")
def index():
    return "ok"


@app.route("/slow")
def slow():
    try:
        ms = int(request.args.get("ms", "0"))
    except ValueError:
        ms = 0
    time.sleep(min(max(ms, 0), MAX_SLEEP_MS) / 1000.0)
    return "ok"


def wait_until_idle():
    with busy_lock:
        log(f"SIGTERM: waiting for {len(busy)} in-flight request(s)")
    while True:
        with busy_lock:
            if not busy:
                break
        time.sleep(0.05)
    log("no request in flight; exiting")


def on_sigterm_inline(_signum, _frame):
    wait_until_idle()
    sys.exit(0)


def on_sigterm_thread(_signum, _frame):
    def drain_then_exit():
        wait_until_idle()
        os._exit(0)  # sys.exit would only end this helper thread

    threading.Thread(target=drain_then_exit, daemon=True).start()


def main():
    port = int(sys.argv[1] if len(sys.argv) > 1 else os.environ.get("PORT", "8080"))
    mode = os.environ.get("FLASK_TRAP_DRAIN", "inline")
    if mode not in ("inline", "thread"):
        sys.exit(f"flask_trap: FLASK_TRAP_DRAIN must be inline or thread, not {mode!r}")
    signal.signal(signal.SIGTERM, on_sigterm_inline if mode == "inline" else on_sigterm_thread)
    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # no line per request
    log(f"pid {os.getpid()} listening on {port}, drain mode {mode}")
    app.run(host="0.0.0.0", port=port, threaded=True)


if __name__ == "__main__":
    main()

"""Scenario d/e: python3 http.server (ThreadingHTTPServer) with no SIGTERM handler.

Run as PID 1 it ignores SIGTERM (the kernel drops default-action signals to a namespace's init), so `podman stop`
ends it only with SIGKILL. Port: first argument, else $PORT, else 8080.

  /            answers 200 "ok" at once
  /slow?ms=N   sleeps N ms (0..60000), then answers 200 "ok"
"""
import os
import sys
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

MAX_SLEEP_MS = 60000


def sleep_ms_from_query(query):
    try:
        ms = int(parse_qs(query).get("ms", ["0"])[0])
    except ValueError:
        return 0
    return min(max(ms, 0), MAX_SLEEP_MS)


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # lets loadgen --keepalive reuse connections

    def do_GET(self):
        url = urlsplit(self.path)
        if url.path == "/slow":
            time.sleep(sleep_ms_from_query(url.query) / 1000.0)
        elif url.path != "/":
            self.answer(404, b"not found")
            return
        self.answer(200, b"ok")

    def answer(self, status, body):
        self.send_response(status)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format, *args):
        pass  # one line per request would drown the container log


def main():
    port = int(sys.argv[1] if len(sys.argv) > 1 else os.environ.get("PORT", "8080"))
    server = ThreadingHTTPServer(("0.0.0.0", port), Handler)
    print(f"plain_http: pid {os.getpid()} listening on {port}", file=sys.stderr, flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()

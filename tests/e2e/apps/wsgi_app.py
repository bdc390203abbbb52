"""Plain WSGI app served by uWSGI (scenarios b, c) and gunicorn (scenario f).

  /            answers 200 "ok" at once
  /slow?ms=N   sleeps N ms (0..60000), then answers 200 "ok"

uWSGI looks up `application`, gunicorn is pointed at `wsgi_app:app`.
"""
import time
from urllib.parse import parse_qs

MAX_SLEEP_MS = 60000


def sleep_ms_from_query(query):
    try:
        ms = int(parse_qs(query).get("ms", ["0"])[0])
    except ValueError:
        return 0
    return min(max(ms, 0), MAX_SLEEP_MS)


def app(environ, start_response):
    path = environ.get("PATH_INFO", "/")
    if path == "/slow":
        time.sleep(sleep_ms_from_query(environ.get("QUERY_STRING", "")) / 1000.0)
    elif path != "/":
        start_response("404 Not Found", [("Content-Type", "text/plain"), ("Content-Length", "9")])
        return [b"not found"]
    start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", "2")])
    return [b"ok"]


application = app

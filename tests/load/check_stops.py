#!/usr/bin/env python3
"""Checks what tests/e2e/load.sh saw of its stops: `sigdrain_fleet stop` output (one JSON object per stopped
container) against the daemon's JSON logs (stop reports on stdout, log lines on stderr).

usage: check_stops.py STOPS.jsonl DAEMON_STDOUT DAEMON_STDERR

Prints one "PASS: ..." or "FAIL: ..." line per check; exits 0 (the caller counts the lines).
"""
import json
import sys


def json_lines(path):
    out = []
    with open(path) as f:
        for line in f:
            line = line.strip()
            if line.startswith("{"):
                try:
                    out.append(json.loads(line))
                except json.JSONDecodeError:
                    pass
    return out


def check(ok, message):
    print(("PASS: " if ok else "FAIL: ") + message)


def main():
    stops_path, daemon_out, daemon_err = sys.argv[1:4]
    stops = [s for s in json_lines(stops_path) if "name" in s]
    reports = {r["container"]["id"]: r for r in json_lines(daemon_out) if r.get("event") == "stop"}
    log = [line.get("msg", "") for line in json_lines(daemon_err)]
    guarded = [s for s in stops if s["guarded"]]
    controls = [s for s in stops if not s["guarded"]]
    check(len(guarded) > 0, f"{len(guarded)} guarded containers stopped")

    failed = {s["name"]: s["errors"] for s in guarded if s["failed"]}
    check(not failed, f"no failed request in {sum(s['sent'] for s in guarded)} sent to the guarded containers "
                      f"while they were stopped" + (f": {failed}" if failed else ""))
    idle_lag = [s["name"] for s in guarded if s["sent_after_stop"] == 0]
    check(not idle_lag, "every guarded container got requests after its stop began"
                        + (f" (none for {idle_lag})" if idle_lag else ""))
    killed = [s["name"] for s in guarded if s["sigkilled_by_runtime"] or s["exit_code"] != 0]
    check(not killed, "every guarded container exited 0 before the runtime's SIGKILL"
                      + (f" (not: {[(s['name'], s['exit_code'], s['exit_signal']) for s in guarded if s['name'] in killed]})"
                         if killed else ""))

    not_held = [s["name"] for s in guarded if not any(m.startswith(f"holding SIGTERM sent to {s['name']} ") for m in log)]
    check(not not_held, "the daemon held every guarded container's SIGTERM" + (f" (not: {not_held})" if not_held else ""))
    wrong = {}
    for s in guarded:
        r = reports.get(s["id"])
        if r is None:
            wrong[s["name"]] = "no stop report"
        elif r["drain"]["released_by"] != "idle" or r["exit"]["outcome"] != "graceful":
            wrong[s["name"]] = f"released by {r['drain']['released_by']}, {r['exit']['outcome']}"
    check(not wrong, "every stop report says: released when idle, graceful" + (f" (not: {wrong})" if wrong else ""))
    def spread(values):
        values = sorted(values)
        return f"{values[0]}-{values[-1]} ms (median {values[len(values) // 2]})" if values else "-"

    print(f"  stop took {spread([s['stop_ms'] for s in guarded])}, of which drain "
          f"{spread([r['drain']['ms'] for r in reports.values()])}")

    # The control: the same stop without the hold loses the requests the load balancer still sends.
    for s in controls:
        check(s["failed"] > 0 and s["id"] not in reports,
              f"control {s['name']} (not guarded): {s['failed']} of {s['sent']} requests failed {s['errors']}, "
              f"no stop by the daemon")


if __name__ == "__main__":
    main()

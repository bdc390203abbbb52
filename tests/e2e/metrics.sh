#!/usr/bin/env bash
# `sigdrain daemon --metrics-address`: /metrics parses line by line (prom_parse.py, strict, cross-checked with
# prometheus_client), has every family, and counts a real held stop (holds, releases, drain histogram, requests
# completed, stops) and a SIGKILL during a hold (escalations); /healthz and /readyz answer 200; per-container
# gauges follow the containers; `--log-format json` writes one JSON object per stop and per log line; bad
# --metrics-address / --log-format values and a port in use are one-line errors with exit 2.
# Needs root and scripts/podman-setup.sh; about 40 seconds.
set -uo pipefail
# shellcheck source=tests/e2e/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
e2e_init

SIGDRAIN=$E2E_SIGDRAIN
STATE_DIR=$E2E_WORK_DIR/state
# Debian's python3, which has python3-prometheus-client, whatever python3 comes first in PATH.
PY=/usr/bin/python3
$PY -c 'import prometheus_client' 2>/dev/null || e2e_die "python3-prometheus-client missing: run scripts/podman-setup.sh"
DAEMON_PID=""
METRICS_PORT=$(e2e_free_port)
METRICS_URL=http://127.0.0.1:$METRICS_PORT

stop_daemon() {
  [[ -n $DAEMON_PID ]] || return 0
  kill -INT "$DAEMON_PID" 2>/dev/null
  wait "$DAEMON_PID" 2>/dev/null
  DAEMON_PID=""
}
trap 'stop_daemon; e2e_on_exit' EXIT

# expect_one_line_error WHAT CMD...: the command exits 2 with exactly one line on stderr.
expect_one_line_error() {
  local what=$1 err status=0
  shift
  err=$("$@" 2>&1 >/dev/null </dev/null) || status=$?
  [[ $status == 2 && $(wc -l <<<"$err") == 1 ]] && e2e_pass "$what: exit 2, one line: $err" ||
    e2e_fail "$what: exit $status, stderr: $err"
}

# scrape NAME: /metrics parsed into $E2E_WORK_DIR/NAME.json; returns 1 (and says why) if any line is wrong.
scrape() {
  local out=$E2E_WORK_DIR/$1
  curl -fsS -m 5 -o "$out.txt" "$METRICS_URL/metrics" || { echo "  scrape $1: curl failed"; return 1; }
  $PY "$E2E_DIR/prom_parse.py" <"$out.txt" >"$out.json" 2>"$out.err" || { sed "s/^/  scrape $1: /" "$out.err"; return 1; }
}

# value NAME FAMILY [LABEL=VALUE...]: the sum of the samples of FAMILY in scrape NAME whose labels match (sample
# name = FAMILY unless a label _name=... says otherwise); prints 0 when none match.
value() {
  $PY - "$E2E_WORK_DIR/$1.json" "${@:2}" <<'EOF'
import json, sys
families = json.load(open(sys.argv[1]))
family, *wanted = sys.argv[2:]
wanted = dict(w.split("=", 1) for w in wanted)
sample_name = wanted.pop("_name", family)
samples = [s for f in families.values() for s in f["samples"] if s["name"] == sample_name]
total = sum(s["value"] for s in samples if all(s["labels"].get(k) == v for k, v in wanted.items()))
print(int(total) if total == int(total) else total)
EOF
  local status=$?
  ((status == 0)) || { e2e_judge_error "value $*: python exited $status"; return 1; }
}

# --- bad input ---------------------------------------------------------------------------------------------------
expect_one_line_error "--metrics-address 9464" "$SIGDRAIN" daemon --metrics-address 9464 --check-config
expect_one_line_error "--log-format xml" "$SIGDRAIN" daemon --log-format xml --check-config
expect_one_line_error "--log-json is gone" "$SIGDRAIN" daemon --log-json --check-config
printf 'metrics-address = [::1:80\n' >"$E2E_WORK_DIR/bad.conf"
expect_one_line_error "config metrics-address = [::1:80" "$SIGDRAIN" daemon --config "$E2E_WORK_DIR/bad.conf" --check-config
printf 'metrics-address = 127.0.0.1:%s\nlog-format = json\n' "$METRICS_PORT" >"$E2E_WORK_DIR/good.conf"
out=$("$SIGDRAIN" daemon --config "$E2E_WORK_DIR/good.conf" --log-format text --check-config)
[[ $out == *"metrics-address = 127.0.0.1:$METRICS_PORT"* && $out == *"log-format = text"* ]] &&
  e2e_pass "config file sets metrics-address; --log-format on the command line wins" || e2e_fail "--check-config: $out"

# A port in use: the daemon refuses to start, in one line, before it loads anything.
busy_port=$(e2e_free_port)
$PY -c 'import socket, sys, time; s = socket.socket(); s.bind(("127.0.0.1", int(sys.argv[1]))); s.listen(); time.sleep(30)' \
  "$busy_port" &
busy_pid=$!
sleep 0.3
expect_one_line_error "--metrics-address on a port in use" "$SIGDRAIN" daemon --state-dir "$E2E_WORK_DIR/busy-state" \
  --metrics-address "127.0.0.1:$busy_port"
kill "$busy_pid" 2>/dev/null
wait "$busy_pid" 2>/dev/null

# --- the daemon with metrics -------------------------------------------------------------------------------------
"$SIGDRAIN" daemon --state-dir "$STATE_DIR" --bpf-pin-dir "$E2E_PIN_DIR" --metrics-address "127.0.0.1:$METRICS_PORT" --log-format json \
  >"$E2E_WORK_DIR/daemon.out" 2>"$E2E_WORK_DIR/daemon.err" &
DAEMON_PID=$!
ready=0
for _ in $(seq 100); do
  curl -fs -m 2 -o /dev/null "$METRICS_URL/readyz" && { ready=1; break; }
  kill -0 "$DAEMON_PID" 2>/dev/null || break
  sleep 0.1
done
((ready)) && e2e_pass "/readyz answers 200 once BPF is loaded and containers discovered" ||
  e2e_die "the daemon did not become ready: $(cat "$E2E_WORK_DIR/daemon.err")"
code=$(curl -s -m 5 -o /dev/null -w '%{http_code}' "$METRICS_URL/healthz")
[[ $code == 200 ]] && e2e_pass "/healthz answers 200" || e2e_fail "/healthz answered $code"

if scrape before; then
  e2e_pass "every line of /metrics parses ($(wc -l <"$E2E_WORK_DIR/before.txt") lines)"
else
  e2e_fail "/metrics does not parse: $(head -c 2000 "$E2E_WORK_DIR/before.txt")"
fi
families=$($PY -c 'import json, sys; print(" ".join(sorted(json.load(open(sys.argv[1])))))' "$E2E_WORK_DIR/before.json" 2>/dev/null)
missing=""
for f in sigdrain_info sigdrain_holds_total sigdrain_releases_total sigdrain_drain_duration_seconds \
  sigdrain_requests_completed_during_holds_total sigdrain_sigkill_escalations_total sigdrain_stops_total \
  sigdrain_container_inflight_requests sigdrain_container_open_connections sigdrain_guarded_containers \
  sigdrain_ringbuf_drops_total sigdrain_bpf_runs_skipped_total sigdrain_gate_stops_total; do
  [[ " $families " == *" $f "* ]] || missing+=" $f"
done
[[ -z $missing ]] && e2e_pass "every family is there" || e2e_fail "missing families:$missing (have: $families)"
info=$(value before sigdrain_info hold_backend=ptrace)
[[ $info == 1 ]] && e2e_pass "sigdrain_info{hold_backend=\"ptrace\"} is 1: $(grep '^sigdrain_info' "$E2E_WORK_DIR/before.txt")" ||
  e2e_fail "sigdrain_info: $(grep '^sigdrain_info' "$E2E_WORK_DIR/before.txt")"

# --- a held stop of a real container -----------------------------------------------------------------------------
# Scenario d: http.server as PID 1 without a SIGTERM handler. The daemon holds podman's SIGTERM while requests are in
# flight, releases when idle, and its plan (SIGKILL, safe once drained) ends the container.
port=$(e2e_free_port)
name=$(e2e_container_name metrics-d)
e2e_start_scenario d "$port" metrics-d && e2e_wait_http "$port" || e2e_die "scenario d did not start"
sleep 1.5 # discovery attaches to the new init; the next snapshot shows it
scrape guarded || e2e_fail "/metrics does not parse with a guarded container"
series=$(value guarded sigdrain_container_open_connections container="$name")
guarded=$(value guarded sigdrain_guarded_containers)
((guarded >= 1)) && [[ $(grep -c "container=\"$name\"" "$E2E_WORK_DIR/guarded.txt") == 2 ]] &&
  e2e_pass "guarded containers: $guarded; $name has in-flight and connection gauges (connections: $series)" ||
  e2e_fail "guarded=$guarded, $name: $(grep "$name" "$E2E_WORK_DIR/guarded.txt")"

e2e_loadgen_start "$port" --lb-lag 800
sleep 1.5
e2e_loadgen_begin_stop
e2e_time_ms timeout 60 podman stop -t 20 "$name" >/dev/null
e2e_loadgen_wait || e2e_fail "load generator"
echo "  podman stop took ${E2E_ELAPSED_MS} ms; load: $E2E_LOADGEN_JSON"
sleep 0.5 # a snapshot is published on the loop turn after the stop is counted
if scrape after; then
  for check in "sigdrain_holds_total|1" "sigdrain_releases_total|1" "sigdrain_drain_duration_seconds|1|_name=sigdrain_drain_duration_seconds_count" \
    "sigdrain_drain_duration_seconds|1|_name=sigdrain_drain_duration_seconds_bucket le=+Inf" \
    "sigdrain_stops_total|1|outcome=graceful" "sigdrain_gate_stops_total|1|result=attached"; do
    IFS='|' read -r family delta labels <<<"$check"
    # shellcheck disable=SC2086  # labels: several words
    b=$(value before "$family" $labels) a=$(value after "$family" $labels)
    ((a == b + delta)) && e2e_pass "$family $labels: $b -> $a" || e2e_fail "$family $labels: $b -> $a, want +$delta"
  done
  idle=$(value after sigdrain_releases_total reason=idle)
  ((idle >= 1)) && e2e_pass "released by idle: $idle" || e2e_fail "releases: $(grep '^sigdrain_releases_total' "$E2E_WORK_DIR/after.txt")"
  completed=$(value after sigdrain_requests_completed_during_holds_total)
  ((completed > 0)) && e2e_pass "requests completed during holds: $completed" || e2e_fail "no request counted as completed during the hold"
  sum=$(value after sigdrain_drain_duration_seconds _name=sigdrain_drain_duration_seconds_sum)
  $PY -c 'import sys; sys.exit(0 if 0.5 < float(sys.argv[1]) < 20 else 1)' "$sum" && e2e_pass "drain duration sum ${sum} s" ||
    e2e_fail "drain duration sum ${sum} s"
else
  e2e_fail "/metrics does not parse after the stop"
fi
sleep 1 # discovery forgets the container
scrape gone && ! grep -q "container=\"$name\"" "$E2E_WORK_DIR/gone.txt" &&
  e2e_pass "$name's gauges are gone with it" || e2e_fail "gauges after $name is gone: $(grep "$name" "$E2E_WORK_DIR/gone.txt")"

# The stop record on stdout is JSON; so is every log line on stderr.
record=$(grep "\"$name\"" "$E2E_WORK_DIR/daemon.out" | tail -1)
fields=$($PY -c 'import json, sys; r = json.loads(sys.argv[1]); print(r["drain"]["released_by"], r["exit"]["outcome"])' "$record" 2>&1)
[[ $fields == "idle graceful" ]] &&
  e2e_pass "--log-format json: the stop record is one JSON object" || e2e_fail "stop record: $record"
if $PY -c 'import json, sys; [json.loads(l) for l in open(sys.argv[1])]' "$E2E_WORK_DIR/daemon.err" 2>/dev/null &&
  [[ -s $E2E_WORK_DIR/daemon.err ]]; then
  e2e_pass "--log-format json: every log line is a JSON object ($(wc -l <"$E2E_WORK_DIR/daemon.err") lines)"
else
  e2e_fail "log lines: $(head -5 "$E2E_WORK_DIR/daemon.err")"
fi

# --- SIGKILL during a hold: an escalation, and a killed stop -----------------------------------------------------
port=$(e2e_free_port)
name=$(e2e_container_name metrics-kill)
e2e_start_scenario d "$port" metrics-kill && e2e_wait_http "$port" || e2e_die "scenario d (kill) did not start"
sleep 1.5
e2e_loadgen_start "$port" --lb-lag 500
sleep 1
timeout 60 podman stop -t 20 "$name" >/dev/null 2>&1 &
stopper=$!
sleep 1.5 # held now: the requests keep it busy
e2e_loadgen_begin_stop
podman kill -s KILL "$name" >/dev/null
wait "$stopper" 2>/dev/null
e2e_loadgen_wait 30 >/dev/null
sleep 0.5
if scrape killed; then
  b=$(value after sigdrain_sigkill_escalations_total) a=$(value killed sigdrain_sigkill_escalations_total)
  ((a == b + 1)) && e2e_pass "sigkill escalations: $b -> $a" || e2e_fail "sigkill escalations: $b -> $a, want +1"
  b=$(value after sigdrain_stops_total outcome=killed) a=$(value killed sigdrain_stops_total outcome=killed)
  ((a == b + 1)) && e2e_pass "stops killed: $b -> $a" || e2e_fail "stops killed: $b -> $a, want +1"
  b=$(value after sigdrain_releases_total reason=exited) a=$(value killed sigdrain_releases_total reason=exited)
  ((a == b + 1)) && e2e_pass "released by exit: $b -> $a" || e2e_fail "released by exit: $b -> $a, want +1"
else
  e2e_fail "/metrics does not parse after the SIGKILL"
fi

stop_daemon
if curl -fs -m 2 -o /dev/null "$METRICS_URL/healthz"; then e2e_fail "/healthz still answers after the daemon stopped"; else
  e2e_pass "the HTTP server stops with the daemon"
fi
e2e_summary

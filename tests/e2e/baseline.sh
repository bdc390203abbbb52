#!/usr/bin/env bash
# Baseline without sigdrain: for each app scenario, start its container, put slow-request load on it, run
# `podman stop -t T` while the load runs, and report how long the stop took, how the container ended and what the
# clients saw. Needs root and scripts/podman-setup.sh. Takes about 10 s per scenario.
#
# USAGE
#   tests/e2e/baseline.sh [--only a,b,...] [--stop-timeout S] [--concurrency C] [--lb-lag MS[,MS...]]
#                         [--load-before S]
#                         [--keepalive] [--json FILE] [--logs]
#
# Every scenario runs once per LB lag (default 1000,8000): clients keep starting requests for that long after the
# stop began. 1000 ms models a load balancer that notices quickly, so the load is over before a 5 s SIGKILL;
# 8000 ms models traffic that goes on past the SIGKILL (no load balancer in front of podman at all).
#
# SCENARIOS (PID 1 of the container in brackets)
#   a   Flask, SIGTERM handler waits for in-flight requests inside the handler   [python3 flask_trap.py]
#   a2  the same, waiting in a helper thread so the accept loop keeps serving     [python3 flask_trap.py]
#   b   uWSGI, 2 processes x 2 threads; SIGTERM is a brutal reload               [uwsgi]
#   c   supervisord running b's uWSGI with stopsignal=HUP, stopwaitsecs=10      [supervisord]
#   d   http.server ThreadingHTTPServer without a SIGTERM handler                 [python3 plain_http.py]
#   e   d behind a shell that does not forward signals                           [sh -c '...; echo ...']
#   f   gunicorn, 4 sync workers, --graceful-timeout 10                           [gunicorn]
#
# EXAMPLES
#   tests/e2e/baseline.sh                         # all scenarios, podman stop -t 5, 4 clients, lags 1 s and 8 s
#   tests/e2e/baseline.sh --only d,f --lb-lag 0 --keepalive --json /tmp/baseline.jsonl
#
# Columns: lag = LB lag in ms; stop_ms = wall time of `podman stop`; exit = container exit code (137: SIGKILLed); sigkill = podman
# reported falling back to SIGKILL; then the load generator's counts (tests/e2e/loadgen.py documents them);
# last_ok = ms after stop began of the last successful response; errors = failure kinds.
set -euo pipefail
# shellcheck source=tests/e2e/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

ALL_SCENARIOS=(a a2 b c d e f)
only=""
stop_timeout=5
concurrency=4
lb_lags_ms=1000,8000
load_before_s=2.5
keepalive=0
json_out=""
show_logs=0

usage() { sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; }

while (($#)); do
  case $1 in
    --only) only=$2; shift 2 ;;
    --stop-timeout) stop_timeout=$2; shift 2 ;;
    --concurrency) concurrency=$2; shift 2 ;;
    --lb-lag) lb_lags_ms=$2; shift 2 ;;
    --load-before) load_before_s=$2; shift 2 ;;
    --keepalive) keepalive=1; shift ;;
    --json) json_out=$2; shift 2 ;;
    --logs) show_logs=1; shift ;;
    -h | --help) usage; exit 0 ;;
    *) echo "baseline: unknown argument $1 (see --help)" >&2; exit 2 ;;
  esac
done
if ! [[ $stop_timeout =~ ^[0-9]+$ ]] || ((stop_timeout > 60)); then e2e_die "--stop-timeout must be 0..60"; fi
[[ $lb_lags_ms =~ ^[0-9]+(,[0-9]+)*$ ]] || e2e_die "--lb-lag must be a comma-separated list of milliseconds"
IFS=, read -r -a lb_lags <<<"$lb_lags_ms"
[[ $load_before_s =~ ^[0-9]+(\.[0-9]+)?$ ]] || e2e_die "--load-before must be a number of seconds"

scenarios=("${ALL_SCENARIOS[@]}")
if [[ -n $only ]]; then
  IFS=, read -r -a scenarios <<<"$only"
  for s in "${scenarios[@]}"; do
    [[ " ${ALL_SCENARIOS[*]} " == *" $s "* ]] || e2e_die "unknown scenario $s (known: ${ALL_SCENARIOS[*]})"
  done
fi

# start_scenario ID PORT: starts the scenario's container.
start_scenario() {
  local id=$1 port=$2
  local -a uwsgi=(uwsgi --plugin python3 --http-socket ":$port" --master --processes 2 --threads 2 --need-app
    --disable-logging --wsgi-file /app/wsgi_app.py)
  case $id in
    a) e2e_run_container "$id" "$port" -e FLASK_TRAP_DRAIN=inline -- python3 /app/flask_trap.py "$port" ;;
    a2) e2e_run_container "$id" "$port" -e FLASK_TRAP_DRAIN=thread -- python3 /app/flask_trap.py "$port" ;;
    b) e2e_run_container "$id" "$port" "${uwsgi[@]}" ;;
    c) e2e_run_container "$id" "$port" supervisord -n -c /app/supervisord.conf ;;
    d) e2e_run_container "$id" "$port" python3 /app/plain_http.py "$port" ;;
    # The trailing echo keeps sh from exec'ing python3: the shell stays PID 1 and python3 is its child.
    e) e2e_run_container "$id" "$port" sh -c "python3 /app/plain_http.py $port; echo plain_http exited" ;;
    f) e2e_run_container "$id" "$port" gunicorn -w 4 -k sync --graceful-timeout 10 -b "0.0.0.0:$port" \
      --chdir /app wsgi_app:app ;;
  esac
}

row_format='%-3s %5s %8s %5s %7s %5s %4s %6s %4s %8s %8s  %s\n'
print_header() {
  # shellcheck disable=SC2059
  printf "$row_format" id lag stop_ms exit sigkill sent ok failed cut refused last_ok errors
}

# run_scenario ID LB_LAG_MS: one measurement; prints a table row, appends a JSON line to --json FILE.
run_scenario() {
  local id=$1 lb_lag_ms=$2 port name stop_err json errors exit_code sigkill
  port=$(e2e_free_port)
  name=$(e2e_container_name "$id")
  if ! start_scenario "$id" "$port" || ! e2e_wait_http "$port" 30; then
    e2e_fail "$id: container did not come up and answer on port $port"
    podman logs "$name" 2>&1 | tail -n 20 >&2 || true
    timeout 30 podman rm -f -t 0 "$name" >/dev/null 2>&1 || true
    return 0
  fi

  local -a loadgen_options=(--concurrency "$concurrency" --lb-lag "$lb_lag_ms" --timeout 10 --max-duration 60)
  ((keepalive)) && loadgen_options+=(--keepalive)
  e2e_loadgen_start "$port" "${loadgen_options[@]}"
  sleep "$load_before_s"

  stop_err=$E2E_WORK_DIR/stop-$id-$lb_lag_ms.err
  e2e_loadgen_begin_stop
  e2e_time_ms timeout $((stop_timeout + 30)) podman stop -t "$stop_timeout" "$name" 2>"$stop_err" >/dev/null
  local stop_ms=$E2E_ELAPSED_MS stop_status=$E2E_LAST_STATUS

  if ! e2e_loadgen_wait 60; then
    e2e_fail "$id: load generator produced no result"
    timeout 30 podman rm -f -t 0 "$name" >/dev/null 2>&1 || true
    return 0
  fi
  json=$E2E_LOADGEN_JSON
  exit_code=$(e2e_container_exit_code "$name")
  sigkill=no
  grep -q "resorting to SIGKILL" "$stop_err" && sigkill=yes

  errors=$(e2e_json_get "$json" errors)
  # shellcheck disable=SC2059
  printf "$row_format" "$id" "$lb_lag_ms" "$stop_ms" "$exit_code" "$sigkill" "$(e2e_json_get "$json" sent)" \
    "$(e2e_json_get "$json" ok)" "$(e2e_json_get "$json" failed)" "$(e2e_json_get "$json" cut)" \
    "$(e2e_json_get "$json" refused_after_stop)" "$(e2e_json_get "$json" last_ok_ms_after_stop)" "$errors"
  if ((show_logs)); then
    podman logs "$name" 2>&1 | tail -n 8 | sed "s/^/    [$id log] /"
  fi
  if [[ -n $json_out ]]; then
    python3 -c 'import json, sys; r = json.loads(sys.argv[1]); r.update(scenario=sys.argv[2], stop_ms=int(sys.argv[3]),
stop_status=int(sys.argv[4]), exit_code=int(sys.argv[5]) if sys.argv[5].lstrip("-").isdigit() else None,
sigkill=sys.argv[6] == "yes", stop_timeout_s=int(sys.argv[7])); print(json.dumps(r))' \
      "$json" "$id" "$stop_ms" "$stop_status" "$exit_code" "$sigkill" "$stop_timeout" >>"$json_out"
  fi

  if ((stop_status != 0)); then
    e2e_fail "$id: podman stop failed ($stop_status): $(head -c 300 "$stop_err")"
  elif [[ $(e2e_json_get "$json" failed_before_stop) != 0 ]]; then
    e2e_fail "$id: requests failed before the stop began; the measurement is not meaningful"
  else
    E2E_PASSED=$((E2E_PASSED + 1)) # measured; the numbers are the result, not a verdict
  fi
  timeout 30 podman rm -f -t 0 "$name" >/dev/null 2>&1 || true
}

e2e_init
[[ -z $json_out ]] || : >"$json_out"
echo "baseline: podman stop -t $stop_timeout, $concurrency clients of /slow?ms=1000..2000$( ((keepalive)) && echo " (keep-alive)"), stop after ${load_before_s} s of load"
print_header
for lag in "${lb_lags[@]}"; do
  for id in "${scenarios[@]}"; do
    run_scenario "$id" "$lag"
  done
done
e2e_summary

#!/usr/bin/env bash
# `sigdrain safe-stop` against real apps under load, next to a plain `podman stop`. For each app scenario (see
# tests/e2e/README.md) the same load runs twice: clients with 1-2 s requests in flight, the stop begins, clients
# keep starting requests for an LB lag, then stop; the container is stopped once with `podman stop -t T` and once
# with `sigdrain safe-stop NAME --timeout T --json`. Needs root and scripts/podman-setup.sh; about 2.5 minutes.
#
# USAGE
#   tests/e2e/safe_stop.sh [--only a,b,...] [--timeout S] [--lb-lag MS] [--load-before S] [--no-baseline] [--logs]
#     --no-baseline  skip the plain `podman stop` runs;  --logs  show the end of each container's log
#
# CHECKS
#   with sigdrain      no failed request (cut, reset, refused, ...); exit status 0 and outcome "graceful"; the
#                      container is gone at most 3 s (plus the plan's own pauses, plus 1 s for supervisord's
#                      poll tick) after the last response, and well before the timeout; the plan profile expected
#                      for the app; the drain released by idleness; stdout is one JSON object
#   without sigdrain   the failure that scenario really shows under `podman stop` (tests/e2e/README.md): requests
#                      lost (a, f) or SIGKILL at the timeout (b, c, d, e)
#   in flight before   one 4 s request already in flight when safe-stop starts, nothing after it (scenario d): it
#                      must complete (sigdrain cannot have seen its start, only the connection)
#   min-drain label    an idle container labelled sigdrain.io/min-drain-ms=3000: --dry-run shows it, and the drain
#                      lasts at least 3000 ms (the quiet window alone would release it at 1 s), released by idleness
#   bad input          unknown container, a container that already stopped, --timeout 1 --quiet 2000: exit 2 with
#                      one line on stderr
#
# The binary under test is $SIGDRAIN (default: build/sigdrain of this repository). Every run prints one table row
# (stop_ms: wall time of the stop command; gone: when the container ended (podman's FinishedAt), in ms after the
# last response, i.e. after the load ended), then its PASS/FAIL lines.
set -uo pipefail
# shellcheck source=tests/e2e/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

SIGDRAIN=$E2E_SIGDRAIN
ALL_SCENARIOS=(a b c d e f)
# What safe-stop should choose for each app (its --json plan.profile).
declare -A EXPECTED_PROFILE=([a]=default [b]=uwsgi [c]=supervisord [d]=no-handler [e]=wrapper
  [f]=gunicorn)
# What a plain `podman stop` does wrong there: "lost" = some requests failed, "killed" = SIGKILL at the timeout.
declare -A PLAIN_FAILURE=([a]=lost [b]=killed [c]=killed [d]=killed [e]=killed [f]=lost)
# The quiet window (1 s), the app's own exit (uWSGI takes about 1 s on SIGINT) and podman's clean-up, with room
# for a loaded CI machine: still "a couple of seconds", far from the timeout.
GONE_AFTER_LOAD_MAX_MS=3000
# A `sigdrain daemon` guarding all containers (another test, or a user's) would hold podman's and safe-stop's
# signals and change both measurements: these containers opt out.
UNGUARDED=(--label sigdrain.io/guard=false)
# Time an app itself may add to that: supervisord notices its child's exit only at its next poll tick (1 s).
declare -A APP_EXIT_ALLOWANCE_MS=([c]=1000)

only=""
stop_timeout=8
lb_lag_ms=1200
load_before_s=2.5
run_baseline=1
show_logs=0

usage() { sed -n '2,/^set -uo/p' "$0" | sed '$d; s/^# \{0,1\}//'; }

while (($#)); do
  case $1 in
    --only) only=$2; shift 2 ;;
    --timeout) stop_timeout=$2; shift 2 ;;
    --lb-lag) lb_lag_ms=$2; shift 2 ;;
    --load-before) load_before_s=$2; shift 2 ;;
    --no-baseline) run_baseline=0; shift ;;
    --logs) show_logs=1; shift ;;
    -h | --help) usage; exit 0 ;;
    *) echo "safe_stop: unknown argument $1 (see --help)" >&2; exit 2 ;;
  esac
done
if ! [[ $stop_timeout =~ ^[0-9]+$ ]] || ((stop_timeout < 4 || stop_timeout > 60)); then
  e2e_die "--timeout must be 4..60"
fi
[[ $lb_lag_ms =~ ^[0-9]+$ ]] || e2e_die "--lb-lag must be milliseconds"
[[ $load_before_s =~ ^[0-9]+(\.[0-9]+)?$ ]] || e2e_die "--load-before must be a number of seconds"
scenarios=("${ALL_SCENARIOS[@]}")
if [[ -n $only ]]; then
  IFS=, read -r -a scenarios <<<"$only"
  for s in "${scenarios[@]}"; do
    [[ -n ${EXPECTED_PROFILE[$s]:-} ]] || e2e_die "unknown scenario $s (known: ${ALL_SCENARIOS[*]})"
  done
fi

# Counts the "PASS message" / "FAIL message" lines of a checker; other lines are shown as they are.
record_checks() {
  local line
  while IFS= read -r line; do
    case $line in
      "PASS "*) e2e_pass "${line#PASS }" ;;
      "FAIL "*) e2e_fail "${line#FAIL }" ;;
      *) echo "$line" ;;
    esac
  done
}

# Judges one run from the load generator's JSON, the stop command's output and the timings. Prints a table row and
# PASS/FAIL lines.
judge_run() {
  python3 - "$@" <<'PY'
import json, re, sys
from datetime import datetime
(scenario, mode, loadgen, stdout_path, stderr_path, status, stop_ms, began_ms, finished, exit_code, timeout_s,
 expected_profile, plain_failure, gone_max_ms) = sys.argv[1:]
status, stop_ms, timeout_ms, gone_max_ms = int(status), int(stop_ms), int(timeout_s) * 1000, int(gone_max_ms)

def epoch_ms(podman_time):
    """podman's "2026-11-25 10:37:13.248978544 +0000 UTC" in ms since the epoch, or None."""
    m = re.fullmatch(r"(\S+ \d+:\d+:\d+)(?:\.(\d+))? ([+-]\d{4}) \S+", podman_time.strip())
    if not m:
        return None
    t = datetime.strptime(f"{m[1]} {m[3]}", "%Y-%m-%d %H:%M:%S %z").timestamp()
    return round(t * 1000 + int((m[2] or "0")[:3].ljust(3, "0")))

finished_ms = epoch_ms(finished)
gone_ms = None if finished_ms is None else finished_ms - int(began_ms)
load = json.loads(loadgen)
last_ok = load["last_ok_ms_after_stop"]
gone_after_load = None if gone_ms is None or last_ok is None else gone_ms - last_ok
label = f"{scenario} {'with sigdrain' if mode == 'sigdrain' else 'podman stop'}"
report = None
if mode == "sigdrain":
    text = open(stdout_path).read()
    try:
        report = json.loads(text)
        if not isinstance(report, dict) or text.strip().count("\n"):
            raise ValueError("not exactly one JSON object on one line")
    except ValueError as error:
        report = None
        print(f"FAIL {label}: stdout is not one JSON object ({error}): {text[:300]!r}")
profile = report["plan"]["profile"] if report else "-"
print(f"{scenario:<3} {mode:<8} {stop_ms:>7} {gone_after_load if gone_after_load is not None else '-':>6} "
      f"{exit_code:>4} {load['sent']:>4} {load['ok']:>4} {load['failed']:>6} {load['cut']:>4} "
      f"{load['refused_after_stop']:>7} {profile:<18} {json.dumps(load['errors'])}")
if report:
    print(f"     plan {report['plan']['steps']!r}, drain {report['drain']}, sent "
          + ", ".join(f"{s['signal']}->{s['comm']}[{s['pid']}]@{s['at_ms']}ms" for s in report["sent"])
          + f", exit {report['exit']}, total {report['total_ms']} ms")
if load["failed_before_stop"]:
    print(f"FAIL {label}: {load['failed_before_stop']} requests failed before the stop began; run not meaningful")
    sys.exit(0)

def check(ok, message):
    print(f"{'PASS' if ok else 'FAIL'} {label}: {message}")

if mode == "sigdrain":
    check(load["failed"] == 0 and load["sent"] > 0,
          f"no failed request (sent {load['sent']}, ok {load['ok']}, errors {load['errors']})")
    outcome = report["exit"]["outcome"] if report else None
    check(status == 0 and outcome == "graceful", f"exit status {status} (want 0), outcome {outcome} (want graceful)")
    # The plan's own pauses (e.g. supervisord's "500ms") come on top of the budget.
    steps = report["plan"]["steps"] if report else ""
    budget = gone_max_ms + sum(int(ms) for ms in re.findall(r"(\d+)\s*ms\b", steps))
    check(gone_after_load is not None and gone_after_load <= budget and gone_ms < timeout_ms - 1000
          and stop_ms < timeout_ms,
          f"container gone {gone_after_load} ms after the load ended (max {budget}), {gone_ms} ms after the "
          f"stop began; safe-stop returned after {stop_ms} ms (timeout {timeout_ms})")
    if report:
        released = report["drain"]["released_by"]
        check(profile == expected_profile and released == "idle",
              f"plan profile {profile} (want {expected_profile}), drain released by {released} (want idle)")
    if open(stderr_path).read().strip():
        print("     stderr: " + open(stderr_path).read().strip().replace("\n", "\n     stderr: "))
else:
    killed = stop_ms >= timeout_ms - 300 or exit_code == "137"
    if plain_failure == "lost":
        check(load["failed"] > 0, f"requests lost: {load['failed']} failed ({load['errors']})")
    else:
        check(killed, f"SIGKILLed at the timeout: stop took {stop_ms} ms (timeout {timeout_ms}), exit code "
              f"{exit_code}, {load['cut']} requests cut")
PY
}

# run_once SCENARIO MODE: one container, load, one stop (MODE plain or sigdrain), judged.
run_once() {
  local id=$1 mode=$2 port name out err
  port=$(e2e_free_port)
  name=$(e2e_container_name "$id")
  if ! e2e_start_scenario "$id" "$port" "$id" "${UNGUARDED[@]}" || ! e2e_wait_http "$port" 30; then
    e2e_fail "$id $mode: container did not come up and answer on port $port"
    podman logs "$name" 2>&1 | tail -n 20 >&2 || true
    timeout 30 podman rm -f -t 0 "$name" >/dev/null 2>&1 || true
    return 0
  fi
  if [[ $mode == sigdrain ]]; then
    # `sigdrain check` explains the plain stop and names the profile safe-stop will use, changing nothing.
    local check profile
    check=$(timeout 30 "$SIGDRAIN" check "$name" --json 2>&1)
    profile=$(e2e_json_get "$check" profile 2>/dev/null)
    if [[ $profile == "${EXPECTED_PROFILE[$id]}" && -n $(e2e_json_get "$check" plain_stop 2>/dev/null) ]] &&
      e2e_container_running "$name"; then
      e2e_pass "$id check: profile $profile; a plain stop: $(e2e_json_get "$check" plain_stop)"
    else
      e2e_fail "$id check: $check"
    fi
  fi
  e2e_loadgen_start "$port" --concurrency 4 --lb-lag "$lb_lag_ms" --timeout 10 --max-duration 60
  sleep "$load_before_s"

  out=$E2E_WORK_DIR/$id-$mode.out
  err=$E2E_WORK_DIR/$id-$mode.err
  local began
  began=$(e2e_now_ms)
  e2e_loadgen_begin_stop
  if [[ $mode == plain ]]; then
    e2e_time_ms timeout $((stop_timeout + 20)) podman stop -t "$stop_timeout" "$name" >"$out" 2>"$err"
  else
    e2e_time_ms timeout $((stop_timeout + 20)) "$SIGDRAIN" safe-stop "$name" --timeout "$stop_timeout" --json \
      >"$out" 2>"$err"
  fi
  local stop_ms=$E2E_ELAPSED_MS stop_status=$E2E_LAST_STATUS finished=none
  # When the container ended, as conmon recorded it (the stop command itself may return later).
  e2e_wait_not_running "$name" 10 && finished=$(podman inspect -f '{{.State.FinishedAt}}' "$name" 2>/dev/null)

  if ! e2e_loadgen_wait 40; then
    e2e_fail "$id $mode: load generator produced no result"
  else
    record_checks < <(judge_run "$id" "$mode" "$E2E_LOADGEN_JSON" "$out" "$err" "$stop_status" "$stop_ms" "$began" \
      "$finished" \
      "$(e2e_container_exit_code "$name")" "$stop_timeout" "${EXPECTED_PROFILE[$id]}" "${PLAIN_FAILURE[$id]}" \
      "$((GONE_AFTER_LOAD_MAX_MS + ${APP_EXIT_ALLOWANCE_MS[$id]:-0}))")
  fi
  if ((show_logs)); then
    podman logs -t "$name" 2>&1 | tail -n 12 | sed "s/^/     [$id log] /"
  fi
  if [[ $mode == plain ]] && ((stop_status != 0)); then
    e2e_fail "$id podman stop: failed ($stop_status): $(head -c 300 "$err")"
  fi
  timeout 30 podman rm -f -t 0 "$name" >/dev/null 2>&1 || true
}

# bad_input_check DESCRIPTION -- SAFE-STOP-ARGS...: safe-stop must exit 2 with one line on stderr, nothing on stdout.
bad_input_check() {
  local description=$1
  shift 2
  local out=$E2E_WORK_DIR/bad.out err=$E2E_WORK_DIR/bad.err status=0 lines
  timeout 30 "$SIGDRAIN" safe-stop "$@" >"$out" 2>"$err" || status=$?
  lines=$(grep -c . "$err")
  if ((status == 2 && lines == 1)) && [[ ! -s $out ]]; then
    e2e_pass "bad input, $description: exit 2, stderr: $(<"$err")"
  else
    e2e_fail "bad input, $description: exit $status (want 2), $lines stderr lines (want 1)," \
      "stdout $(wc -c <"$out") bytes (want 0)"
    head -n 5 "$err" "$out" | sed 's/^/     /'
  fi
}

bad_inputs() {
  local port name
  bad_input_check "unknown container" -- "sde2e-no-such-container-$$" --timeout 5 --json
  port=$(e2e_free_port)
  name=$(e2e_container_name bad)
  if ! e2e_start_scenario d "$port" bad "${UNGUARDED[@]}" || ! e2e_wait_http "$port" 30; then
    e2e_fail "bad input: container did not come up"
    return 0
  fi
  bad_input_check "--timeout 1 --quiet 2000" -- "$name" --timeout 1 --quiet 2000 --json
  bad_input_check "--timeout -3" -- "$name" --timeout -3
  bad_input_check "--signal SIGFOO" -- "$name" --signal SIGFOO
  bad_input_check "--plan with an unknown target" -- "$name" --plan "SIGTERM@nowhere"
  # Without root: refused in one line before anything is touched.
  local status=0 err
  err=$(setpriv --reuid=65534 --regid=65534 --clear-groups "$SIGDRAIN" safe-stop "$name" 2>&1 >/dev/null) || status=$?
  if ((status == 2)) && [[ $(grep -c . <<<"$err") == 1 ]]; then
    e2e_pass "bad input, not root: exit 2, stderr: $err"
  else
    e2e_fail "bad input, not root: exit $status, stderr: $err"
  fi
  if e2e_container_running "$name"; then
    e2e_pass "bad input, --timeout 1 --quiet 2000: the container was left running"
  else
    e2e_fail "bad input, --timeout 1 --quiet 2000: the container was stopped anyway"
  fi
  timeout 30 podman stop -t 0 "$name" >/dev/null 2>&1
  if [[ $(podman inspect -f '{{.State.Status}}' "$name" 2>/dev/null) == exited ]]; then
    bad_input_check "a container that already stopped" -- "$name" --timeout 5 --json
  else
    e2e_fail "bad input: could not prepare an exited container"
  fi
  timeout 30 podman rm -f -t 0 "$name" >/dev/null 2>&1 || true
}

# One long request already in flight when safe-stop starts and no traffic after it: the drain has to wait for it
# although the observer started after the request was read.
request_in_flight_before() {
  local port name out=$E2E_WORK_DIR/before.out status
  port=$(e2e_free_port)
  name=$(e2e_container_name before)
  if ! e2e_start_scenario d "$port" before "${UNGUARDED[@]}" || ! e2e_wait_http "$port" 30; then
    e2e_fail "in flight before: container did not come up"
    return 0
  fi
  e2e_loadgen_start "$port" --concurrency 1 --min-ms 4000 --max-ms 4000 --lb-lag 0 --timeout 15 --max-duration 30
  sleep 0.7
  e2e_loadgen_begin_stop
  e2e_time_ms timeout 30 "$SIGDRAIN" safe-stop "$name" --timeout 10 --json >"$out" 2>"$E2E_WORK_DIR/before.err"
  status=$E2E_LAST_STATUS
  if ! e2e_loadgen_wait 30; then
    e2e_fail "in flight before: load generator produced no result"
  elif [[ $(e2e_json_get "$E2E_LOADGEN_JSON" failed) == 0 && $status == 0 ]]; then
    e2e_pass "in flight before: the 4 s request completed; safe-stop exit 0 after $E2E_ELAPSED_MS ms"
  else
    e2e_fail "in flight before: safe-stop exit $status after $E2E_ELAPSED_MS ms, the request:" \
      "$(e2e_json_get "$E2E_LOADGEN_JSON" errors); safe-stop drain: $(e2e_json_get "$(<"$out")" drain 2>/dev/null)"
  fi
  timeout 30 podman rm -f -t 0 "$name" >/dev/null 2>&1 || true
}

# sigdrain.io/min-drain-ms holds an idle container's drain that long under safe-stop as under the daemon (it was
# ignored here once). A lower bound only: without the label the quiet window releases the idle container at 1 s.
min_drain_label() {
  local port name out=$E2E_WORK_DIR/min_drain.out dry status drain_ms released
  port=$(e2e_free_port)
  name=$(e2e_container_name mindrain)
  if ! e2e_start_scenario d "$port" mindrain "${UNGUARDED[@]}" --label sigdrain.io/min-drain-ms=3000 ||
    ! e2e_wait_http "$port" 30; then
    e2e_fail "min-drain label: container did not come up"
    return 0
  fi
  dry=$(timeout 30 "$SIGDRAIN" safe-stop "$name" --timeout 10 --dry-run --json 2>"$E2E_WORK_DIR/min_drain.err")
  if [[ $(e2e_json_get "$dry" min_drain_ms) == 3000 ]]; then
    e2e_pass "min-drain label: --dry-run shows min_drain_ms 3000"
  else
    e2e_fail "min-drain label: --dry-run min_drain_ms is $(e2e_json_get "$dry" min_drain_ms), want 3000"
  fi
  timeout 30 "$SIGDRAIN" safe-stop "$name" --timeout 10 --json >"$out" 2>>"$E2E_WORK_DIR/min_drain.err"
  status=$?
  drain_ms=$(e2e_json_get "$(e2e_json_get "$(<"$out")" drain)" ms)
  released=$(e2e_json_get "$(e2e_json_get "$(<"$out")" drain)" released_by)
  if ((status == 0)) && [[ $released == idle && $drain_ms =~ ^[0-9]+$ ]] && ((drain_ms >= 3000)); then
    e2e_pass "min-drain label: idle, yet drained $drain_ms ms (>= 3000), released by idleness, exit 0"
  else
    e2e_fail "min-drain label: exit $status, drained '$drain_ms' ms (want >= 3000), released by '$released' (want idle)"
    head -n 5 "$E2E_WORK_DIR/min_drain.err" | sed 's/^/     /'
  fi
  timeout 30 podman rm -f -t 0 "$name" >/dev/null 2>&1 || true
}

e2e_init
[[ -x $SIGDRAIN ]] || e2e_die "no sigdrain binary at $SIGDRAIN (make build, or set SIGDRAIN)"
echo "safe_stop: timeout $stop_timeout s, 4 clients of /slow?ms=1000..2000 for ${load_before_s} s, LB lag $lb_lag_ms ms"
echo "id  mode     stop_ms   gone exit sent   ok failed  cut refused profile            errors"
bad_inputs
request_in_flight_before
min_drain_label
for id in "${scenarios[@]}"; do
  ((run_baseline)) && run_once "$id" plain
  run_once "$id" sigdrain
done
e2e_summary

#!/usr/bin/env bash
# Load (issue #8): `sigdrain daemon` guarding 500 containers with 10,000 connections open; 20 of them stopped
# under request load, the way a runtime stops them, lose no request. The containers are a synthetic CRI-O fleet
# (tests/load/README.md): cgroups, CRI-O state and a small HTTP server as each init; real podman containers
# are too slow to start 500 of. Also records the daemon's footprint there and asserts RSS and peak RSS <= 40 MB.
#
# Needs root; no podman. Run it under `flock /tmp/sigdrain-podman.lock` when other daemons may start: only one
# daemon may run. About 1 minute. Knobs: LOAD_CONTAINERS (500), LOAD_CONNECTIONS (10000), LOAD_STOPS (20).
set -uo pipefail
# shellcheck source=tests/e2e/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

CONTAINERS=${LOAD_CONTAINERS:-500}
CONNECTIONS=${LOAD_CONNECTIONS:-10000}
STOPS=${LOAD_STOPS:-20}
MAX_RSS_KB=$((40 * 1024))
FLEET=${SIGDRAIN_FLEET:-$(dirname "$E2E_SIGDRAIN")/tests/sigdrain_fleet}
CGROUP_ROOT=/sys/fs/cgroup
[[ $(stat -f -c %T /sys/fs/cgroup/unified 2>/dev/null) == cgroup2fs ]] && CGROUP_ROOT=/sys/fs/cgroup/unified

[[ $(id -u) -eq 0 ]] || e2e_die "the load test needs root (BPF, ptrace, cgroups)"
[[ -x $E2E_SIGDRAIN && -x $FLEET ]] || e2e_die "build first: $E2E_SIGDRAIN and $FLEET"
[[ $(stat -f -c %T "$CGROUP_ROOT") == cgroup2fs ]] || e2e_die "no cgroup v2 hierarchy at $CGROUP_ROOT"
ulimit -n "$(ulimit -Hn)" # the connection holder needs CONNECTIONS file descriptors, the fleet's servers their ends
(($(ulimit -n) > CONNECTIONS + 100)) || e2e_die "RLIMIT_NOFILE hard limit $(ulimit -Hn) is too low for $CONNECTIONS connections"

WORK=$(mktemp -d /tmp/sdload.XXXXXX)
FLEET_PID="" CONNECT_PID="" DAEMON_PID=""

# Fleets of runs that died without cleaning up: a slice named after a supervisor that no longer runs.
remove_leftover_fleets() {
  local slice owner
  for slice in "$CGROUP_ROOT"/sigdrain-fleet-*.slice; do
    [[ -d $slice ]] || continue
    owner=${slice##*/sigdrain-fleet-}
    owner=${owner%.slice}
    kill -0 "$owner" 2>/dev/null && continue
    e2e_log "removing leftover fleet $slice"
    echo 1 >"$slice/cgroup.kill" 2>/dev/null
    sleep 0.2
    find "$slice" -mindepth 1 -depth -type d -exec rmdir {} + 2>/dev/null
    rmdir "$slice" 2>/dev/null
  done
}

stop_process() { # PID SIGNAL
  [[ -n $1 ]] || return 0
  kill "-$2" "$1" 2>/dev/null
  wait "$1" 2>/dev/null
}

cleanup() {
  local status=$?
  stop_process "$DAEMON_PID" INT # delivers what it still holds and detaches from every init
  stop_process "$CONNECT_PID" TERM
  stop_process "$FLEET_PID" TERM # kills the inits, removes their cgroups and CRI-O state
  remove_leftover_fleets
  rm -rf "$WORK"
  exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
remove_leftover_fleets

# wait_for_line FILE PATTERN TIMEOUT_S PID: waits until FILE has a line matching PATTERN while PID runs.
wait_for_line() {
  local deadline=$(($(e2e_now_ms) + $3 * 1000))
  until grep -q "$2" "$1" 2>/dev/null; do
    kill -0 "$4" 2>/dev/null || return 1
    (($(e2e_now_ms) < deadline)) || return 1
    sleep 0.1
  done
}

# proc_sample PID: "VmRSS_kB VmHWM_kB utime+stime_ticks"
proc_sample() {
  local rss hwm ticks
  rss=$(awk '/^VmRSS:/ {print $2}' "/proc/$1/status")
  hwm=$(awk '/^VmHWM:/ {print $2}' "/proc/$1/status")
  ticks=$(awk '{print $14 + $15}' "/proc/$1/stat")
  echo "$rss $hwm $ticks"
}

# daemon_footprint WHAT COMMAND...: runs COMMAND (status in E2E_LAST_STATUS), prints the daemon's CPU over that time
# and its RSS and peak RSS after it, and checks both against the 40 MB ceiling.
daemon_footprint() {
  local what=$1 rss hwm ticks_before ticks_after cpu
  shift
  read -r _ _ ticks_before < <(proc_sample "$DAEMON_PID")
  e2e_time_ms "$@"
  read -r rss hwm ticks_after < <(proc_sample "$DAEMON_PID")
  cpu=$(awk -v t=$((ticks_after - ticks_before)) -v hz="$(getconf CLK_TCK)" -v ms="$E2E_ELAPSED_MS" \
    'BEGIN {printf "%.1f", 100 * t / hz / (ms / 1000)}')
  echo "  daemon $what: CPU $cpu % over $E2E_ELAPSED_MS ms; RSS $((rss / 1024)) MB, peak $((hwm / 1024)) MB"
  ((rss <= MAX_RSS_KB && hwm <= MAX_RSS_KB)) && e2e_pass "daemon $what: RSS $rss kB, peak $hwm kB <= 40 MB" ||
    e2e_fail "daemon $what: RSS $rss kB, peak $hwm kB: over 40 MB"
}

guarded_count() {
  "$E2E_SIGDRAIN" ps --json --state-dir "$WORK/state" 2>/dev/null | grep -c '"guarded":true'
}

# --- The fleet, its connections, the daemon ----------------------------------------------------------------------
"$FLEET" up "$WORK/fleet" --guarded "$CONTAINERS" --unguarded 1 --stop-timeout 10 --cgroup-root "$CGROUP_ROOT" \
  >"$WORK/fleet.out" 2>&1 &
FLEET_PID=$!
wait_for_line "$WORK/fleet.out" '^ready' 60 "$FLEET_PID" || e2e_die "the fleet did not start: $(cat "$WORK/fleet.out")"
echo "  fleet: $(cat "$WORK/fleet.out")"

# Labelled mode: the fleet's containers carry sigdrain.io/guard=true, real containers on this host are only observed.
# Unpinned: this script does not run e2e_init (no per-run pin directory), and a restart is daemon.sh's matter.
cat >"$WORK/daemon.conf" <<EOF
state-dir = $WORK/state
guard = labelled
crio-state = $WORK/fleet/crio
log-format = json
bpf-pin-dir = none
EOF
started=$(e2e_now_ms)
"$E2E_SIGDRAIN" daemon --config "$WORK/daemon.conf" >"$WORK/daemon.out" 2>"$WORK/daemon.err" &
DAEMON_PID=$!
guarded=0
while ((guarded < CONTAINERS && $(e2e_now_ms) - started < 60000)); do
  kill -0 "$DAEMON_PID" 2>/dev/null || e2e_die "the daemon exited: $(tail -5 "$WORK/daemon.err")"
  sleep 0.25
  guarded=$(guarded_count)
done
guard_ms=$(($(e2e_now_ms) - started))
((guarded == CONTAINERS)) && e2e_pass "sigdrain ps: $guarded containers guarded, $guard_ms ms after the daemon started" ||
  e2e_fail "sigdrain ps: $guarded of $CONTAINERS containers guarded after $guard_ms ms"

# The connections open once the daemon counts: a connection older than the counts is busy at a stop until it shows
# data or closes (docs/daemon.md), so pre-existing idle keep-alive connections would hold these drains to their
# deadline by design; daemon.sh covers that case.
"$FLEET" connect "$WORK/fleet" --connections "$CONNECTIONS" >"$WORK/connect.out" 2>&1 &
CONNECT_PID=$!
wait_for_line "$WORK/connect.out" '^ready' 120 "$CONNECT_PID" || e2e_die "connections: $(cat "$WORK/connect.out")"
echo "  connections: $(cat "$WORK/connect.out")"
grep -q "^ready $CONNECTIONS connections open, 0 failed" "$WORK/connect.out" &&
  e2e_pass "$CONNECTIONS keep-alive connections open to the fleet" || e2e_fail "connections: $(cat "$WORK/connect.out")"

# --- Footprint with every container guarded and every connection open ---------------------------------------------
daemon_footprint "with $guarded guarded and $CONNECTIONS connections" sleep 3

# --- Stops under load ---------------------------------------------------------------------------------------------
# Each stop: SIGTERM to the init, clients keep starting requests for 1 s (a load balancer that lags), SIGKILL at the
# 10 s timeout unless it exited; 100 ms apart, so up to 20 drains overlap. The unguarded control is stopped the same way.
stop_under_load() {
  "$FLEET" stop "$WORK/fleet" --guarded "$STOPS" --unguarded 1 --clients 2 --lag-ms 1000 >"$WORK/stops.jsonl"
}
daemon_footprint "during $STOPS stops under load" stop_under_load
((E2E_LAST_STATUS == 0)) || e2e_fail "sigdrain_fleet stop exited $E2E_LAST_STATUS"
sleep 0.5 # the last stop reports are written once each exit is seen
while IFS= read -r line; do
  case $line in
    PASS:*) e2e_pass "${line#PASS: }" ;;
    FAIL:*) e2e_fail "${line#FAIL: }" ;;
    *) echo "$line" ;;
  esac
done < <(python3 "$E2E_REPO/tests/load/check_stops.py" "$WORK/stops.jsonl" "$WORK/daemon.out" "$WORK/daemon.err" ||
  echo "FAIL: check_stops.py exited $?")

# The stopped containers' cgroups are gone: the daemon forgets them at its next discovery.
sleep 1
remaining=$(guarded_count)
((remaining == CONTAINERS - STOPS)) && e2e_pass "sigdrain ps: $remaining guarded after the stops" ||
  e2e_fail "sigdrain ps: $remaining guarded after the stops, want $((CONTAINERS - STOPS))"

if ((E2E_FAILED > 0)); then
  echo "--- stops"
  sed 's/^/  /' "$WORK/stops.jsonl"
  echo "--- daemon log (last 20 lines)"
  tail -20 "$WORK/daemon.err" | sed 's/^/  /'
fi
e2e_summary

#!/usr/bin/env bash
# Bad input to every subcommand and flag, unknown and vanishing containers, malformed labels and config files,
# unreadable runtime state, a hanging podman, non-root callers. Each case asserts the documented exit code (0 ok,
# 1 safe-stop had to SIGKILL, 2 error), that an error is exactly one line on stderr, no death by a signal and no
# hang (20 s). Needs root and scripts/podman-setup.sh; about 1.5 minutes.
set -uo pipefail
# shellcheck source=tests/e2e/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
e2e_init

SIGDRAIN=$E2E_SIGDRAIN
NOBODY=(setpriv --reuid=65534 --regid=65534 --clear-groups)
OUT=$E2E_WORK_DIR/out
ERR=$E2E_WORK_DIR/err

# expect RC WHAT CMD...: runs CMD (stdin /dev/null, 20 s limit) and checks its exit code is RC; for RC 2, that
# stderr is one line starting with "sigdrain: ". The output stays in $OUT and $ERR.
expect() {
  local want=$1 what=$2 rc lines
  shift 2
  timeout -k 2 20 "$@" </dev/null >"$OUT" 2>"$ERR"
  rc=$?
  lines=$(wc -l <"$ERR")
  if ((rc == 124)); then
    e2e_fail "$what: hung (killed after 20 s)"
  elif ((rc >= 128)); then
    e2e_fail "$what: died from signal $((rc - 128)): $(head -c 300 "$ERR")"
  elif ((rc != want)); then
    e2e_fail "$what: exit $rc, want $want: $(head -c 300 "$ERR")"
  elif ((want == 2)) && [[ $lines != 1 || $(head -c 10 "$ERR") != "sigdrain: " ]]; then
    e2e_fail "$what: stderr is not one 'sigdrain: ' line ($lines lines): $(head -c 300 "$ERR")"
  else
    e2e_pass "$what: exit $rc${lines:+, }$( ((lines > 0)) && head -n 1 "$ERR" | cut -c1-110)"
    return 0
  fi
  return 1
}

# says PATTERN: the last error names what was wrong (not just "no such container").
says() { grep -qi -- "$1" "$ERR" || e2e_fail "the error does not mention '$1': $(head -c 200 "$ERR")"; }

# --- command line: no container needed ---
S=$SIGDRAIN
expect 2 "no subcommand" "$S"
expect 2 "unknown subcommand" "$S" bogus
expect 2 "unknown global flag" "$S" --bogus
expect 0 "--version" "$S" --version
expect 0 "--help" "$S" --help
expect 2 "version: unknown flag" "$S" version --bogus
expect 2 "version: extra argument" "$S" version extra
expect 0 "version --json without --features" "$S" version --json

for v in abc -5 0 99999999999 "" 1.5; do expect 2 "trace --pid '$v'" "$S" trace --pid "$v"; done
for v in abc -1 0 "" nan inf 1e300; do expect 2 "trace --duration '$v'" "$S" trace --duration "$v" && says duration; done
for v in FOO 0 65 -1 "" SIGFOO 9x; do expect 2 "trace --signal '$v'" "$S" trace --signal "$v" --duration 1 && says signal; done
expect 2 "trace: unknown flag" "$S" trace --bogus
expect 2 "trace: extra argument" "$S" trace extra
expect 2 "trace --pid without a value" "$S" trace --pid
expect 2 "trace --container unknown" "$S" trace --container sde2e-no-such-container
expect 2 "trace --container ''" "$S" trace --container ""
dead_pid=$(sh -c 'echo $$')
expect 2 "trace --pid of a process that does not exist ($dead_pid)" "$S" trace --pid "$dead_pid" --duration 1
expect 0 "trace --pid of a live process, 1 s" "$S" trace --pid $$ --duration 1

expect 2 "safe-stop: no container" "$S" safe-stop
expect 2 "safe-stop: two containers" "$S" safe-stop a b
expect 2 "safe-stop: unknown container" "$S" safe-stop sde2e-no-such-container
expect 2 "safe-stop: empty container" "$S" safe-stop ""
expect 2 "safe-stop: unknown flag" "$S" safe-stop x --bogus
for v in abc -1 0 "" 1e300 inf nan; do expect 2 "safe-stop --timeout '$v'" "$S" safe-stop x --timeout "$v" && says timeout; done
for v in abc -5 "" 99999999999 1.5; do expect 2 "safe-stop --quiet '$v'" "$S" safe-stop x --quiet "$v" && says quiet; done
expect 2 "safe-stop --signal with --plan" "$S" safe-stop x --signal TERM --plan SIGTERM@init

expect 2 "check: no container" "$S" check
expect 2 "check: unknown container" "$S" check sde2e-no-such-container
expect 2 "check --json: unknown container" "$S" check --json sde2e-no-such-container
expect 2 "check: unknown flag" "$S" check x --bogus

expect 2 "ps: no daemon" "$S" ps --state-dir "$E2E_WORK_DIR/no-daemon"
expect 2 "ps: unknown flag" "$S" ps --bogus
expect 2 "ps: extra argument" "$S" ps extra

for v in 0 -1 abc ""; do expect 2 "daemon --max-hold-ms '$v'" "$S" daemon --max-hold-ms "$v" --check-config; done
for v in -1 abc ""; do expect 2 "daemon --quiet-ms '$v'" "$S" daemon --quiet-ms "$v" --check-config; done
for v in 0 -3 abc; do expect 2 "daemon --default-timeout '$v'" "$S" daemon --default-timeout "$v" --check-config; done
expect 2 "daemon --config missing file" "$S" daemon --config "$E2E_WORK_DIR/none.conf" --check-config
expect 2 "daemon: unknown flag" "$S" daemon --bogus
expect 2 "daemon: state dir it cannot create" "$S" daemon --state-dir /proc/sigdrain-state

# Malformed config files: each is refused with its line number.
config_case() {
  local what=$1 text=$2 file=$E2E_WORK_DIR/bad.conf
  printf '%s\n' "$text" >"$file"
  expect 2 "config: $what" "$S" daemon --config "$file" --check-config && {
    grep -q "line " "$ERR" || e2e_fail "config: $what: no line number in: $(cat "$ERR")"
  }
}
config_case "no '='" "quiet-ms 100"
config_case "unknown key" "quiet = 100"
config_case "empty value" "quiet-ms ="
config_case "twice" $'quiet-ms = 1\nquiet-ms = 2'
config_case "not a number" "max-hold-ms = lots"
config_case "out of range" "quiet-ms = 600001"
config_case "negative" "default-timeout = -5"
config_case "relative state-dir" "state-dir = run/sigdrain"
config_case "relative crio-state" "crio-state = containers"
config_case "bad guard" "guard = some"
config_case "bad log-format" "log-format = xml"
printf '\x00\xff\xfe garbage\n' >"$E2E_WORK_DIR/binary.conf"
expect 2 "config: binary garbage" "$S" daemon --config "$E2E_WORK_DIR/binary.conf" --check-config
expect 2 "config: a directory" "$S" daemon --config "$E2E_WORK_DIR" --check-config

# --- not root: one clear line, exit 2 ---
expect 2 "trace as nobody" "${NOBODY[@]}" "$S" trace --duration 1
expect 2 "safe-stop as nobody" "${NOBODY[@]}" "$S" safe-stop sde2e-x
expect 2 "daemon as nobody" "${NOBODY[@]}" "$S" daemon --state-dir "$E2E_WORK_DIR/nobody-state"
expect 2 "ps as nobody" "${NOBODY[@]}" "$S" ps
expect 2 "check as nobody" "${NOBODY[@]}" "$S" check sde2e-x
expect 0 "version as nobody" "${NOBODY[@]}" "$S" version

# --- real containers: malformed labels ---
port=$(e2e_free_port)
e2e_run_container labels "$port" --label sigdrain.io/guard=false --label sigdrain.io/plan=garbage -- \
  python3 /app/plain_http.py "$port" || e2e_die "container did not start"
labels=$(e2e_container_name labels)
port=$(e2e_free_port)
e2e_run_container quiet "$port" --label sigdrain.io/guard=false --label sigdrain.io/quiet-ms=-5 -- \
  python3 /app/plain_http.py "$port" || e2e_die "container did not start"
quiet=$(e2e_container_name quiet)
port=$(e2e_free_port)
e2e_run_container idle "$port" --label sigdrain.io/guard=false -- python3 /app/plain_http.py "$port" ||
  e2e_die "container did not start"
idle=$(e2e_container_name idle)
e2e_wait_http "$port" || e2e_fail "idle container does not answer"

expect 2 "check with sigdrain.io/plan=garbage" "$S" check "$labels"
expect 2 "safe-stop --dry-run with sigdrain.io/plan=garbage" "$S" safe-stop "$labels" --dry-run
expect 2 "safe-stop with sigdrain.io/quiet-ms=-5" "$S" safe-stop "$quiet" --dry-run
expect 2 "safe-stop --signal FOO on a real container" "$S" safe-stop "$idle" --signal FOO
expect 2 "safe-stop --plan garbage on a real container" "$S" safe-stop "$idle" --plan 'SIGTERM@nowhere,'
expect 2 "safe-stop --plan '' on a real container" "$S" safe-stop "$idle" --plan ""
e2e_container_running "$idle" && e2e_pass "the bad plans left the container running" || e2e_fail "a bad plan stopped $idle"

# A podman that hangs: check gives up after the resolver's podman timeout, with one line.
mkdir -p "$E2E_WORK_DIR/bin"
printf '#!/bin/sh\nexec sleep 600\n' >"$E2E_WORK_DIR/bin/podman"
chmod +x "$E2E_WORK_DIR/bin/podman"
expect 2 "check with a podman that hangs" env PATH="$E2E_WORK_DIR/bin:$PATH" "$S" check "$idle"

# --- vanishing containers ---
# trace -c X ends by itself once X is gone.
"$S" trace --container "$idle" --duration 15 >"$E2E_WORK_DIR/trace.out" 2>"$E2E_WORK_DIR/trace.err" &
trace_pid=$!
sleep 1.5
timeout 30 podman rm -f -t 0 "$idle" >/dev/null 2>&1
start=$(e2e_now_ms)
wait "$trace_pid"
rc=$?
waited=$(($(e2e_now_ms) - start))
((rc == 0 && waited < 5000)) && e2e_pass "trace -c X ended ${waited} ms after X was removed: $(cat "$E2E_WORK_DIR/trace.err")" ||
  e2e_fail "trace -c X after X was removed: exit $rc after ${waited} ms: $(cat "$E2E_WORK_DIR/trace.err")"
expect 2 "check of the removed container" "$S" check "$idle"

# safe-stop while the container is removed from another shell: it sees the exit and says the container was
# killed (exit 1), nothing hangs.
port=$(e2e_free_port)
e2e_run_container vanish "$port" --label sigdrain.io/guard=false -- python3 /app/plain_http.py "$port" ||
  e2e_die "container did not start"
vanish=$(e2e_container_name vanish)
e2e_wait_http "$port" || e2e_fail "vanish container does not answer"
(sleep 2 && timeout 30 podman rm -f -t 0 "$vanish" >/dev/null 2>&1) &
remover=$!
expect 1 "safe-stop while the container is removed" "$S" safe-stop "$vanish" --quiet 8000 --timeout 15 --json &&
  grep -q '"outcome":"killed"' "$OUT" && e2e_pass "safe-stop reported: $(head -c 200 "$OUT")" ||
  e2e_fail "safe-stop report: $(cat "$OUT")"
wait "$remover"

# --- the daemon with unreadable runtime state and a podman that hangs ---
bad_state=$E2E_WORK_DIR/bad-state
mkdir -p "$bad_state/crio" "$bad_state/docker/containers/$(printf 'f%.0s' {1..64})"
printf 'garbage' >"$bad_state/docker/containers/$(printf 'f%.0s' {1..64})/config.v2.json"
mkfifo "$bad_state/crio/fifo"
cat >"$E2E_WORK_DIR/daemon.conf" <<EOF
state-dir = $E2E_WORK_DIR/state
docker-state = $bad_state/docker
containerd-state = $bad_state/no-such-dir
crio-state = $bad_state/crio
podman = $E2E_WORK_DIR/bin/podman
bpf-pin-dir = $E2E_PIN_DIR
EOF
port=$(e2e_free_port)
e2e_run_container guarded "$port" -- python3 /app/plain_http.py "$port" || e2e_die "container did not start"
guarded=$(e2e_container_name guarded)
e2e_wait_http "$port" || e2e_fail "guarded container does not answer"
"$S" daemon --config "$E2E_WORK_DIR/daemon.conf" >"$E2E_WORK_DIR/daemon.out" 2>"$E2E_WORK_DIR/daemon.err" &
E2E_DAEMON_PID=$!
sleep 2
kill -0 "$E2E_DAEMON_PID" 2>/dev/null && e2e_pass "the daemon runs with garbage runtime state and a podman that hangs" ||
  e2e_fail "the daemon died: $(cat "$E2E_WORK_DIR/daemon.err")"
guarded_id=$(podman inspect -f '{{.Id}}' "$guarded")
# Discovery has its own thread: the daemon answers at once, whatever podman does.
expect 0 "ps answers while podman hangs" "$S" ps --json --state-dir "$E2E_WORK_DIR/state"
sleep 7 # one discovery waits out the podman timeout (5 s)
expect 0 "ps answers while podman hangs" "$S" ps --json --state-dir "$E2E_WORK_DIR/state"
# Its labels are unknown (it may have opted out with sigdrain.io/guard=false): never guarded on guesswork.
grep "\"$guarded_id\"" "$OUT" | grep -q '"guarded":true' && e2e_fail "guarded a container its runtime did not describe" ||
  e2e_pass "a container its runtime did not describe is not guarded"
grep "\"$guarded_id\"" "$OUT" | grep -q 'does not describe it' && e2e_pass "ps lists it, with the reason" ||
  e2e_fail "ps does not list the undescribed container with its reason: $(head -c 600 "$OUT")"

# The control socket answers only root: made reachable for nobody, it refuses by SO_PEERCRED.
chmod 0711 "$E2E_WORK_DIR" "$E2E_WORK_DIR/state"
chmod 0777 "$E2E_WORK_DIR/state/control.sock"
answer=$("${NOBODY[@]}" timeout 10 python3 -c '
import socket, sys
s = socket.socket(socket.AF_UNIX); s.connect(sys.argv[1])
try: s.sendall(b"ps\n")
except OSError: pass  # the daemon may have answered and closed already
print(s.recv(4096).decode().strip())
' "$E2E_WORK_DIR/state/control.sock" 2>&1)
[[ $answer == "error: the sigdrain daemon answers only root" ]] && e2e_pass "a non-root client of the control socket: $answer" ||
  e2e_fail "a non-root client of the control socket got: $answer"
chmod 0700 "$E2E_WORK_DIR" "$E2E_WORK_DIR/state"
chmod 0600 "$E2E_WORK_DIR/state/control.sock"
expect 2 "a second daemon" "$S" daemon --config "$E2E_WORK_DIR/daemon.conf"
e2e_stop_daemon
grep -q "sigdrain: started" "$E2E_WORK_DIR/daemon.err" && ! grep -qi "internal error\|terminate\|abort" "$E2E_WORK_DIR/daemon.err" &&
  e2e_pass "daemon log clean" || e2e_fail "daemon log: $(tail -5 "$E2E_WORK_DIR/daemon.err")"

e2e_summary

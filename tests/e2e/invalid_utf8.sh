#!/usr/bin/env bash
# A container whose init is named "\xff" (prctl PR_SET_NAME) and has argv bytes that are not UTF-8 (and a terminal
# escape): `trace --json`, `ps --json`, `check --json` and the daemon's control socket answer strict UTF-8 JSON
# with the bytes replaced (U+FFFD), and the text columns of trace, ps and check show them escaped (\xff), never raw.
set -uo pipefail
# shellcheck source=tests/e2e/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
e2e_init

SIGDRAIN=$E2E_SIGDRAIN
STATE_DIR=$E2E_WORK_DIR/state
name=$(e2e_container_name badname)
# Its own pins (removed by the cleanup): the default directory's socket programs would stay attached after the run.
"$SIGDRAIN" daemon --state-dir "$STATE_DIR" --bpf-pin-dir "$E2E_PIN_DIR" >"$E2E_WORK_DIR/daemon.out" 2>"$E2E_WORK_DIR/daemon.err" &
E2E_DAEMON_PID=$!
e2e_run_container badname "$(e2e_free_port)" -- python3 /app/bad_name.py || e2e_die "cannot start the container"
init_pid=""
for _ in $(seq 1 100); do
  init_pid=$(e2e_container_pid "$name")
  [[ -n $init_pid && $init_pid != 0 ]] && [[ $(od -An -tx1 "/proc/$init_pid/comm" 2>/dev/null | tr -d ' \n') == ff0a ]] && break
  sleep 0.1
done
[[ $(od -An -tx1 "/proc/$init_pid/comm" 2>/dev/null | tr -d ' \n') == ff0a ]] || e2e_die "the init did not name itself \\xff"

"$SIGDRAIN" trace --json --container "$name" --duration 10 >"$E2E_WORK_DIR/trace.jsonl" 2>"$E2E_WORK_DIR/trace.err" &
json_pid=$!
"$SIGDRAIN" trace --container "$name" --deliveries --duration 10 >"$E2E_WORK_DIR/trace.txt" 2>&1 &
text_pid=$!
# Both traces attached and seeded (each polls its ring buffer only after seeding the dispositions): each shows a
# probe SIGWINCH, which the init ignores by default. The daemon has discovered the container: its ps lists it.
ready=0
for _ in $(seq 1 100); do
  kill -WINCH "$init_pid"
  grep -q '"signal":"SIGWINCH"' "$E2E_WORK_DIR/trace.jsonl" && grep -q SIGWINCH "$E2E_WORK_DIR/trace.txt" &&
    "$SIGDRAIN" ps --json --state-dir "$STATE_DIR" 2>/dev/null | grep -qF "\"name\":\"$name\"" && ready=1 && break
  sleep 0.1
done
((ready)) || e2e_die "the traces did not show a probe signal, or the daemon did not list $name"
kill -USR1 "$init_pid"
# Both traces have written the SIGUSR1 (the JSON one its deliver record too); else the checks below say what is missing.
for _ in $(seq 1 50); do
  grep -q '"event":"deliver".*"signal":"SIGUSR1"\|"signal":"SIGUSR1".*"event":"deliver"' "$E2E_WORK_DIR/trace.jsonl" &&
    grep -q SIGUSR1 "$E2E_WORK_DIR/trace.txt" && break
  sleep 0.1
done
kill -INT "$json_pid" "$text_pid"
wait "$json_pid" "$text_pid"
"$SIGDRAIN" ps --json --state-dir "$STATE_DIR" >"$E2E_WORK_DIR/ps.jsonl" 2>&1
"$SIGDRAIN" ps --state-dir "$STATE_DIR" >"$E2E_WORK_DIR/ps.txt" 2>&1
"$SIGDRAIN" check --json --state-dir "$STATE_DIR" "$name" >"$E2E_WORK_DIR/check.json" 2>&1
"$SIGDRAIN" check --state-dir "$STATE_DIR" "$name" >"$E2E_WORK_DIR/check.txt" 2>&1

python3 - "$E2E_WORK_DIR" "$STATE_DIR/control.sock" "$init_pid" "$name" <<'PY'
# Any exception (invalid UTF-8, a line that is not JSON, a missing file) exits non-zero: the check fails.
import json, socket, sys
work, sock_path, init_pid, name = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
REPLACED = "\ufffd"
ok = True
def check(cond, what):
    global ok
    print(("PASS: " if cond else "FAIL: ") + what)
    ok &= bool(cond)
def json_lines(raw, what):
    text = raw.decode("utf-8")  # strict: raises on any invalid byte
    return [json.loads(l) for l in text.splitlines() if l.strip()]

# The control socket, as the daemon answers it.
s = socket.socket(socket.AF_UNIX)
s.connect(sock_path)
s.sendall(b"ps\n")
raw = b""
while chunk := s.recv(65536):
    raw += chunk
sock_rows = [r for r in json_lines(raw, "control socket") if r.get("name") == name]
check(sock_rows and sock_rows[0].get("init_comm") == REPLACED, f"control socket: valid JSON, init_comm U+FFFD: {sock_rows}")

ps_rows = [r for r in json_lines(open(f"{work}/ps.jsonl", "rb").read(), "ps") if r.get("name") == name]
check(ps_rows and ps_rows[0].get("init_comm") == REPLACED, "ps --json: valid JSON, init_comm U+FFFD")

c = json_lines(open(f"{work}/check.json", "rb").read(), "check")
check(len(c) == 1 and c[0]["init"]["comm"] == REPLACED and c[0]["init"]["argv"][:2] == [REPLACED * 2 + "-app", "/app/bad_name.py"]
      and c[0]["init"]["argv"][2] == REPLACED and c[0]["init"]["argv"][3] == "caf" + REPLACED + "\x1b[2J",
      f"check --json: valid JSON, comm and argv with U+FFFD: {c[0]['init'] if c else None}")

t = json_lines(open(f"{work}/trace.jsonl", "rb").read(), "trace")
sig = [r for r in t if r["event"] == "signal" and r["signal"] == "SIGUSR1" and r["target"]["pid"] == init_pid]
dl = [r for r in t if r["event"] == "deliver" and r["signal"] == "SIGUSR1" and r["target"]["pid"] == init_pid]
check(sig and sig[0]["target"]["comm"] == REPLACED and sig[0]["disposition"] == "handler",
      f"trace --json: valid JSON, target comm U+FFFD, disposition handler: {sig}")
check(dl and dl[0]["target"]["comm"] == REPLACED, "trace --json: the deliver record's comm is U+FFFD")

# ps reads the daemon's JSON, where the byte is already U+FFFD: its column shows that character's bytes escaped.
for f, want in (("trace.txt", "\\xff[%d/1]" % init_pid), ("ps.txt", "\\xef\\xbf\\xbd"), ("check.txt", "\\xff[%d]" % init_pid)):
    raw = open(f"{work}/{f}", "rb").read()
    text = raw.decode("ascii")  # raises on a raw byte >= 0x80
    check(want in text and "\x1b" not in text, f"{f}: escaped ({want!r}), no raw byte, no terminal escape")
print("\n".join("    " + l for l in open(f"{work}/trace.txt").read().splitlines()))
sys.exit(0 if ok else 1)
PY
status=$?
((status == 0)) && e2e_pass "invalid UTF-8 names and argv: every JSON output parses, every text column escapes" ||
  e2e_fail "invalid UTF-8 output (see above)"
e2e_summary

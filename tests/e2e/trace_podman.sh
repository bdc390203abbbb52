#!/usr/bin/env bash
# `sigdrain trace` tells the classic podman stop story of a Python PID 1 without a SIGTERM handler:
# runc's SIGTERM is ignored, SIGKILL follows about the stop timeout later, and the process is killed by it.
set -uo pipefail
source "$(dirname "$0")/lib.sh"
e2e_init

SIGDRAIN=$E2E_SIGDRAIN
port=$(e2e_free_port)
name=$(e2e_container_name trace)
e2e_run_container trace "$port" -- python3 /app/plain_http.py "$port" || e2e_die "cannot start the container"
e2e_wait_http "$port" || e2e_die "the app did not answer"
id=$(podman inspect -f '{{.Id}}' "$name")
init_pid=$(e2e_container_pid "$name")

out=$E2E_WORK_DIR/trace.jsonl
human=$E2E_WORK_DIR/trace.txt
"$SIGDRAIN" trace --json --container "$name" --duration 12 >"$out" 2>"$E2E_WORK_DIR/trace.err" &
json_pid=$!
"$SIGDRAIN" trace --container "$id" --signal TERM --signal KILL --duration 12 >"$human" 2>&1 &
human_pid=$!
sleep 1.5 # both observers attached
timeout 30 podman stop -t 2 "$name" >/dev/null
sleep 0.5
kill -INT "$json_pid" "$human_pid" 2>/dev/null
wait "$json_pid" "$human_pid"

python3 - "$out" "$id" "$name" "$init_pid" <<'PY' && e2e_pass "trace --json tells ignored SIGTERM, SIGKILL ~2 s later, killed by SIGKILL" || e2e_fail "trace --json story (see above)"
import json, sys
path, cid, name, init_pid = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
events = [json.loads(l) for l in open(path) if l.strip()]
def fail(msg):
    print("  " + msg); [print("   ", json.dumps(e)) for e in events]; sys.exit(1)
term = [e for e in events if e["event"] == "signal" and e["signal"] == "SIGTERM" and e["target"]["pid"] == init_pid]
kill = [e for e in events if e["event"] == "signal" and e["signal"] == "SIGKILL" and e["target"]["pid"] == init_pid]
exits = [e for e in events if e["event"] == "exit" and e["pid"] == init_pid]
if not term: fail("no SIGTERM to the container's init")
t = term[0]
if t["result"] != "ignored": fail(f"SIGTERM result {t['result']}, want ignored")
if t["disposition"] != "default": fail(f"disposition {t['disposition']}, want default")
if not t["sender"]["comm"].startswith("runc"): fail(f"sender {t['sender']}, want runc")
c = t["target"]["container"]
if not c or c["id"] != cid or c["name"] != name or c["runtime"] != "podman": fail(f"target container {c}")
if t["target"]["ns_pid"] != 1: fail("target should be PID 1 in its namespace")
if "PID 1 has no handler" not in t["verdict"]: fail(f"verdict {t['verdict']}")
if not kill: fail("no SIGKILL")
esc = kill[0].get("escalation_after_ms")
if esc is None or not 1500 <= esc <= 4000: fail(f"SIGKILL escalation_after_ms {esc}, want about 2000")
if not exits: fail("no exit event for init")
x = exits[0]
if x.get("killed_by") != "SIGKILL": fail(f"exit {x}")
if x["after_signal_ms"] is None or x["after_signal_ms"] < 1500: fail(f"after_signal_ms {x['after_signal_ms']}")
if not x["container"] or x["container"]["id"] != cid: fail("exit without its container")
PY

if grep -q "ignored: PID 1 has no handler, the runtime will SIGKILL it after its timeout" "$human" &&
  grep -q "escalation: SIGKILL" "$human"; then
  e2e_pass "trace tells the story in words"
  sed 's/^/    /' "$human"
else
  e2e_fail "human trace output lacks the verdicts:"
  cat "$human"
fi
e2e_summary

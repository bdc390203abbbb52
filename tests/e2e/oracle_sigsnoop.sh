#!/usr/bin/env bash
# The oracle test: libbpf-tools' sigsnoop, a tool nobody here wrote, and `sigdrain trace --json` watch the same
# generated workload (tests/e2e/oracle/workload.py: every way to send a signal, kernel-made signals, each
# disposition, fatal and not, on the host and in a pid namespace inside a scratch cgroup named like a podman
# container); tests/e2e/oracle/judge.py requires 100 % agreement and exits non-zero on any exception.
set -uo pipefail
dir=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$dir/../.." && pwd)
SIGDRAIN=$(realpath -m "${SIGDRAIN:-$repo/build/sigdrain}")
[[ $(id -u) -eq 0 ]] || { echo "oracle: run as root" >&2; exit 2; }
command -v sigsnoop >/dev/null || { echo "oracle: sigsnoop missing: run scripts/setup.sh (libbpf-tools)" >&2; exit 2; }
[[ -x $SIGDRAIN ]] || { echo "oracle: no $SIGDRAIN: make build" >&2; exit 2; }

work=$(mktemp -d /tmp/sdoracle.XXXXXX)
cgroot=/sys/fs/cgroup
[[ -e /sys/fs/cgroup/unified/cgroup.procs ]] && cgroot=/sys/fs/cgroup/unified
cgtop=$cgroot/sigdrain-oracle-$$
cgleaf=$cgtop/libpod-$(printf '%064x' $$).scope
pids=()
cleanup() {
  local p
  for p in "${pids[@]}"; do kill -INT "$p" 2>/dev/null; done
  wait 2>/dev/null
  rmdir "$cgleaf" "$cgtop" 2>/dev/null
  [[ ${KEEP_ORACLE_WORK:-} ]] || rm -rf "$work"
}
trap cleanup EXIT
mkdir -p "$cgleaf" || { echo "oracle: cannot make $cgleaf" >&2; exit 2; }

stdbuf -oL sigsnoop >"$work/sigsnoop.txt" 2>"$work/sigsnoop.err" &
pids+=($!)
signals=()
for n in $(seq 1 31); do signals+=(--signal "$n"); done
"$SIGDRAIN" trace --json "${signals[@]}" >"$work/trace.jsonl" 2>"$work/trace.err" &
pids+=($!)

# A probe signal both tools show (SIGWINCH does nothing to sleep): at the start, both attached; at the end, each has
# written every event before it (trace reads one ring buffer in order; sigsnoop drains every CPU's buffer it polls).
both_see_a_probe() {
  local probe seen=0
  sleep 30 &
  probe=$!
  for _ in $(seq 1 100); do
    kill -WINCH "$probe"
    if grep -Eq "\"pid\":$probe[,}]" "$work/trace.jsonl" && grep -Eq " $probe +0 *\$" "$work/sigsnoop.txt"; then
      seen=1
      break
    fi
    sleep 0.1
  done
  kill "$probe"
  wait "$probe" 2>/dev/null
  ((seen))
}
both_see_a_probe || { echo "FAIL: oracle: sigsnoop and trace did not both start"; cat "$work"/*.err; exit 1; }

if ! timeout 120 python3 "$dir/oracle/workload.py" host "$work" "$cgleaf"; then
  echo "FAIL: oracle: the workload failed"
  exit 1
fi
both_see_a_probe || { echo "FAIL: oracle: sigsnoop or trace stopped reporting"; cat "$work"/*.err; exit 1; }
for p in "${pids[@]}"; do kill -INT "$p"; done
wait "${pids[@]}"
pids=()

if python3 "$dir/oracle/judge.py" "$work/sigsnoop.txt" "$work/trace.jsonl" "$work"; then
  echo "PASS: oracle: trace agrees with sigsnoop and with waitpid on every workload signal and exit"
else
  echo "FAIL: oracle: trace disagrees with sigsnoop or waitpid (KEEP_ORACLE_WORK=1 keeps $work)"
  exit 1
fi

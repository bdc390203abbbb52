#!/usr/bin/env bash
# What guarding costs a running app (issue #12): a thread-per-connection Python server (tests/e2e/apps/plain_http.py)
# in two podman containers under one `sigdrain daemon`, one guarded, one labelled sigdrain.io/guard=false; rounds
# alternate guarded/unguarded (ratios of medians, so a busy host hurts both alike). Prints the figure vs its goal.
# Needs root, podman (runc) and the e2e rootfs (scripts/podman-setup.sh). Usage: bench/guard_cost.sh [ROUNDS] [SECS]
set -uo pipefail
rounds=${1:-5} secs=${2:-3}
repo=$(cd "$(dirname "$0")/.." && pwd)
S=$(realpath -m "${SIGDRAIN:-$repo/build/sigdrain}")
rootfs=${SIGDRAIN_E2E_ROOTFS:-/var/lib/sigdrain-e2e/rootfs}
work=$(mktemp -d /tmp/sd-guard-cost.XXXXXX)
pg=${GUARD_COST_PORT:-18181} pu=$((${GUARD_COST_PORT:-18181} + 1))
prefix=${SIGDRAIN_BENCH_PREFIX:-sdb-} # container names; parallel runs set their own
run() { podman --runtime runc run -d --name "$1" "${@:3}" -v /usr:/usr:ro -v "$repo/tests/e2e/apps:/app:ro" \
  -p "127.0.0.1:$2:$2" --rootfs "$rootfs" python3 /app/plain_http.py "$2" >/dev/null; }
cleanup() { [[ -n ${D:-} ]] && kill -TERM "$D" 2>/dev/null && wait "$D"; podman rm -f -t 1 ${prefix}guarded ${prefix}unguarded >/dev/null 2>&1; rm -rf "$work"; }
trap cleanup EXIT
podman rm -f ${prefix}guarded ${prefix}unguarded >/dev/null 2>&1
run "${prefix}guarded" "$pg" --label sigdrain.io/guard=true || exit 1
run "${prefix}unguarded" "$pu" --label sigdrain.io/guard=false || exit 1
# --labelled-only: the daemon guards only its own container, never a neighbour's.
"$S" daemon --labelled-only --state-dir "$work/state" --bpf-pin-dir none >/dev/null 2>"$work/daemon.err" &
D=$!
sleep 3
"$S" ps --state-dir "$work/state" | grep -q "^${prefix}guarded .*held by" || { echo "guard_cost: ${prefix}guarded is not guarded" >&2; exit 1; }
for ((r = 1; r <= rounds; r++)); do
  echo "g $(python3 "$repo/bench/guard_cost_client.py" "$pg" "$secs")" >>"$work/rounds"
  echo "u $(python3 "$repo/bench/guard_cost_client.py" "$pu" "$secs")" >>"$work/rounds"
done
python3 - "$work/rounds" <<'PY'
import statistics, sys
rows = [l.split() for l in open(sys.argv[1])]
med = lambda k, i: statistics.median(float(r[i]) for r in rows if r[0] == k)
for r in rows: print(f"  round {'guarded  ' if r[0] == 'g' else 'unguarded'} {float(r[1]):8.0f} req/s  p99 {float(r[2]):8.2f} ms")
ratio, added = med("g", 1) / med("u", 1), med("g", 2) - med("u", 2)
print(f"guard cost, thread per connection: throughput {ratio:.2f} of unguarded vs goal >= 0.99, {'met' if ratio >= 0.99 else 'MISSED'}")
print(f"guard cost, thread per connection: p99 {added:+.2f} ms vs goal <= 0.5 ms, {'met' if added <= 0.5 else 'MISSED'}")
PY

#!/usr/bin/env bash
# Figure 9 (issue #12): how long the stop gate keeps the runtime's `runc kill <id> 15` stopped while the daemon
# seizes the container's init (100 threads) and continues it; and the journal write (fsync) that is the one wait
# left between the held signal's stop and the app's resume. Each round starts a podman container whose PID 1 is a
# Python process with 100 threads and a SIGTERM handler, guarded by one `sigdrain daemon --labelled-only`, and
# stops it with plain `podman stop`; the daemon logs both durations. Prints p50/p99 against the goal.
# Needs root, podman (runc) and the e2e rootfs (scripts/podman-setup.sh). Usage: bench/gate_stop.sh [ROUNDS=10]
set -uo pipefail
rounds=${1:-10}
repo=$(cd "$(dirname "$0")/.." && pwd)
S=$(realpath -m "${SIGDRAIN:-$repo/build/sigdrain}")
rootfs=${SIGDRAIN_E2E_ROOTFS:-/var/lib/sigdrain-e2e/rootfs}
prefix=${SIGDRAIN_BENCH_PREFIX:-sdb-gate-}
work=$(mktemp -d /tmp/sd-gate-stop.XXXXXX)
cleanup() {
  [[ -n ${D:-} ]] && kill -TERM "$D" 2>/dev/null && wait "$D"
  for ((r = 1; r <= rounds; r++)); do podman rm -f -t 0 "$prefix$r" >/dev/null 2>&1; done
  rm -rf "$work"
}
trap cleanup EXIT
"$S" daemon --labelled-only --state-dir "$work/state" --bpf-pin-dir none >"$work/daemon.out" 2>"$work/daemon.err" &
D=$!
sleep 2
app='import signal, sys, threading, time
signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
for _ in range(99): threading.Thread(target=time.sleep, args=(3600,), daemon=True).start()
while True: time.sleep(1)'
for ((r = 1; r <= rounds; r++)); do
  podman rm -f -t 0 "$prefix$r" >/dev/null 2>&1
  podman --runtime runc run -d --name "$prefix$r" --label sigdrain.io/guard=true -v /usr:/usr:ro --rootfs "$rootfs" \
    python3 -c "$app" >/dev/null || { echo "gate_stop: container did not start" >&2; exit 1; }
  sleep 1.5 # discovered and guarded at the gate
  timeout 30 podman stop -t 10 "$prefix$r" >/dev/null
  podman rm -f -t 0 "$prefix$r" >/dev/null 2>&1
done
sleep 0.5
python3 - "$work/daemon.err" "$rounds" <<'PY'
import re, statistics, sys
log, rounds = open(sys.argv[1]).read(), int(sys.argv[2])
attached = re.findall(r"seized \((\d+) threads\); runtime pid \d+ stopped for (\d+) us", log)
stopped = [int(us) / 1000 for _, us in attached]
threads = [int(n) for n, _ in attached]
journal = [int(m) / 1000 for m in re.findall(r"journaled in (\d+) us", log)]
if not stopped:
    print("gate stop: no gate attach in the daemon log:", *re.findall(r"gate: .*", log), sep="\n  ", file=sys.stderr); sys.exit(1)
def pct(v, p): v = sorted(v); return v[min(len(v) - 1, int(round(p / 100 * (len(v) - 1))))]
p50, p99 = pct(stopped, 50), pct(stopped, 99)
print(f"  {len(stopped)}/{rounds} stops caught at the gate; init threads seized: {min(threads)}-{max(threads)}")
for why in re.findall(r"go without a hold \(\S+\): (.*); stopped for", log): print(f"  not held: {why}")
print(f"gate stop: runtime process stopped p50 {p50:.2f} ms, p99 {p99:.2f} ms vs goal p99 <= 5 ms, {'met' if p99 <= 5 else 'MISSED'}")
if journal:
    print(f"gate stop: held signal journaled (fsync) in p50 {pct(journal, 50):.2f} ms, p99 {pct(journal, 99):.2f} ms (the init thread waits for it)")
PY

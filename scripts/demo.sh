#!/usr/bin/env bash
# The README's main job (`make demo`): on a fresh Debian 12 machine, set everything up, build sigdrain, then stop
# one real container under load twice, once with `podman stop` and once with `sigdrain safe-stop`, and compare.
#
# The container runs uWSGI (2 processes x 2 threads, the stock Debian package) serving 1-2 s requests to 4 clients.
# The stop begins while requests are in flight; the clients keep sending for 1.2 s more (a load balancer that has
# not noticed yet), then stop. `podman stop` sends SIGTERM, which uWSGI treats as a brutal reload: the requests in
# flight are cut, the master keeps running, and podman SIGKILLs it at the timeout. `sigdrain safe-stop` waits until
# nothing is in flight, sends SIGINT (uWSGI's real stop) and is done. Meanwhile `sigdrain trace` records what the
# plain stop did. Run as root; about a minute plus the build. Removes its containers and temp files when done.
#
# USAGE
#   scripts/demo.sh [--no-setup] [--no-build] [--timeout S]
#     --no-setup   skip scripts/setup.sh and scripts/podman-setup.sh (the machine is already prepared)
#     --no-build   skip `make build`; use $SIGDRAIN (default $BUILD_DIR/sigdrain, BUILD_DIR as in the Makefile)
#     --timeout S  the stop timeout of both stops (default 10, podman's own default)
set -euo pipefail

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
do_setup=1
do_build=1
stop_timeout=10
lb_lag_ms=1200
load_before_s=2.5

usage() { sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; }
while (($#)); do
  case $1 in
    --no-setup) do_setup=0; shift ;;
    --no-build) do_build=0; shift ;;
    --timeout) stop_timeout=$2; shift 2 ;;
    -h | --help) usage; exit 0 ;;
    *) echo "demo: unknown argument $1 (see --help)" >&2; exit 2 ;;
  esac
done
if ! [[ $stop_timeout =~ ^[0-9]+$ ]] || ((stop_timeout < 5 || stop_timeout > 60)); then
  echo "demo: --timeout must be 5..60" >&2
  exit 2
fi
[[ $(id -u) -eq 0 ]] || { echo "demo: run as root (podman with runc, BPF)" >&2; exit 2; }

if [[ -t 1 ]]; then
  section() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
else
  section() { printf '\n== %s\n' "$*"; }
fi

# --- 1. set-up and build --------------------------------------------------------------------------------------
if ((do_setup)); then
  section "set-up: packages, podman, rootfs (idempotent)"
  "$REPO/scripts/setup.sh"
  "$REPO/scripts/podman-setup.sh"
fi
build_dir=${BUILD_DIR:-build} # the Makefile's variable
[[ $build_dir == /* ]] || build_dir=$REPO/$build_dir
SIGDRAIN=${SIGDRAIN:-$build_dir/sigdrain}
if ((do_build)); then
  section "build: make build"
  build_log=$(mktemp /tmp/sigdrain-demo-build.XXXXXX)
  if ! make -C "$REPO" build BUILD_DIR="$build_dir" >"$build_log" 2>&1; then
    tail -n 40 "$build_log"
    echo "demo: the build failed; full log: $build_log" >&2
    exit 1
  fi
  rm -f "$build_log"
  SIGDRAIN=$build_dir/sigdrain
  echo "built $SIGDRAIN"
fi
[[ -x $SIGDRAIN ]] || { echo "demo: no sigdrain binary at $SIGDRAIN" >&2; exit 2; }

# shellcheck source=tests/e2e/lib.sh
source "$REPO/tests/e2e/lib.sh"
e2e_init # removes this run's containers and temp files on exit, whatever happens

# run_stop MODE: a fresh uWSGI container under load, stopped by MODE (plain or sigdrain). Sets R_* for the table.
run_stop() {
  local mode=$1 port name out trace_pid="" short
  short=web1
  [[ $mode == plain ]] || short=web2
  port=$(e2e_free_port)
  name=$(e2e_container_name "$short")
  # Opted out of any running `sigdrain daemon`, which would otherwise hold podman's SIGTERM and drain for it.
  e2e_start_scenario b "$port" "$short" --label sigdrain.io/guard=false || e2e_die "the uWSGI container did not start"
  e2e_wait_http "$port" 30 || e2e_die "uWSGI did not answer on port $port"
  echo "container $name: uWSGI on 127.0.0.1:$port; 4 clients of 1-2 s requests for ${load_before_s} s, then the stop"
  if [[ $mode == plain ]]; then
    # Signals to the container's processes during the plain stop, as sigdrain sees them.
    "$SIGDRAIN" trace --container "$name" --signal TERM --signal KILL --signal INT --duration $((stop_timeout + 10)) \
      >"$E2E_WORK_DIR/trace.txt" 2>"$E2E_WORK_DIR/trace.err" &
    trace_pid=$!
  fi
  e2e_loadgen_start "$port" --concurrency 4 --lb-lag "$lb_lag_ms" --timeout 15 --max-duration 60
  sleep "$load_before_s"
  e2e_loadgen_begin_stop
  out=$E2E_WORK_DIR/$mode.out
  if [[ $mode == plain ]]; then
    echo "\$ podman stop -t $stop_timeout $name"
    e2e_time_ms timeout $((stop_timeout + 20)) podman stop -t "$stop_timeout" "$name" >/dev/null 2>"$out"
  else
    echo "\$ sigdrain safe-stop $name --timeout $stop_timeout"
    e2e_time_ms timeout $((stop_timeout + 20)) "$SIGDRAIN" safe-stop "$name" --timeout "$stop_timeout" >"$out"
  fi
  R_STOP_MS=$E2E_ELAPSED_MS
  R_STATUS=$E2E_LAST_STATUS
  e2e_wait_not_running "$name" 10 || true
  R_EXIT=$(e2e_container_exit_code "$name")
  if [[ -n $trace_pid ]]; then
    sleep 0.5 # the exit event
    kill -INT "$trace_pid" 2>/dev/null || true
    wait "$trace_pid" 2>/dev/null || true
  fi
  e2e_loadgen_wait 40 || e2e_die "the load generator gave no result"
  R_SENT=$(e2e_json_get "$E2E_LOADGEN_JSON" sent)
  R_OK=$(e2e_json_get "$E2E_LOADGEN_JSON" ok)
  R_FAILED=$(e2e_json_get "$E2E_LOADGEN_JSON" failed)
  R_ERRORS=$(e2e_json_get "$E2E_LOADGEN_JSON" errors)
  echo "done in $((R_STOP_MS / 1000)).$((R_STOP_MS % 1000 / 100)) s: $R_OK of $R_SENT requests ok, $R_FAILED failed"
  timeout 30 podman rm -f -t 0 "$name" >/dev/null 2>&1 || true
}

seconds() { printf '%d.%d s' $(($1 / 1000)) $(($1 % 1000 / 100)); }

# --- 2. the two stops -----------------------------------------------------------------------------------------
section "1st stop: podman stop -t $stop_timeout (sigdrain trace watching)"
run_stop plain
P_STOP_MS=$R_STOP_MS P_EXIT=$R_EXIT P_SENT=$R_SENT P_OK=$R_OK P_FAILED=$R_FAILED P_ERRORS=$R_ERRORS
P_HOW="graceful"
grep -q "resorting to SIGKILL" "$E2E_WORK_DIR/plain.out" && P_HOW="SIGKILL at the timeout"

section "2nd stop: sigdrain safe-stop --timeout $stop_timeout"
run_stop sigdrain
S_STOP_MS=$R_STOP_MS S_EXIT=$R_EXIT S_SENT=$R_SENT S_OK=$R_OK S_FAILED=$R_FAILED S_ERRORS=$R_ERRORS
case $R_STATUS in
  0) S_HOW="graceful" ;;
  1) S_HOW="SIGKILL at the timeout" ;;
  *) S_HOW="error (exit $R_STATUS)" ;;
esac

# --- 3. the comparison ----------------------------------------------------------------------------------------
section "side by side: the same uWSGI container, the same load"
row='  %-20s %-36s %s\n'
# shellcheck disable=SC2059
{
  printf "$row" "" "podman stop -t $stop_timeout" "sigdrain safe-stop --timeout $stop_timeout"
  printf "$row" "requests ok / sent" "$P_OK / $P_SENT" "$S_OK / $S_SENT"
  printf "$row" "failed requests" "$P_FAILED $([[ $P_ERRORS != "{}" ]] && echo "$P_ERRORS")" \
    "$S_FAILED $([[ $S_ERRORS != "{}" ]] && echo "$S_ERRORS")"
  printf "$row" "stop took" "$(seconds "$P_STOP_MS")" "$(seconds "$S_STOP_MS")"
  printf "$row" "ended by" "$P_HOW (exit $P_EXIT)" "$S_HOW (exit $S_EXIT)"
}
echo "  podman stop sends SIGTERM, which uWSGI takes as a brutal reload (cuts what is in flight, keeps running);"
echo "  sigdrain safe-stop waits until nothing is in flight, then sends SIGINT, uWSGI's own stop signal."

section "sigdrain trace during the plain stop (first lines)"
if [[ -s $E2E_WORK_DIR/trace.txt ]]; then
  head -n 9 "$E2E_WORK_DIR/trace.txt" | cut -c1-200
else
  echo "(no trace output: $(head -c 300 "$E2E_WORK_DIR/trace.err"))"
fi

section "sigdrain safe-stop's report"
cat "$E2E_WORK_DIR/sigdrain.out"

if ((R_STATUS != 0 || S_FAILED != 0)); then
  echo "demo: sigdrain safe-stop did not stop the container cleanly (exit $R_STATUS, $S_FAILED failed requests)" >&2
  exit 1
fi

# shellcheck shell=bash
# shellcheck disable=SC2034  # E2E_* globals are read by the scripts that source this file
# Helpers for end-to-end scenario scripts (source this file; it sets no shell options of its own).
#
#   source "$(dirname "$0")/lib.sh"
#   e2e_init                                   # root + setup checks, leftovers removed, cleanup trap installed
#   port=$(e2e_free_port)
#   e2e_run_container web "$port" --label k=v -- python3 /app/plain_http.py "$port"
#   e2e_wait_http "$port" || e2e_fail "web did not answer"
#   e2e_loadgen_start "$port" --lb-lag 1000; sleep 2
#   e2e_loadgen_begin_stop; e2e_time_ms podman stop -t 5 "$(e2e_container_name web)"
#   e2e_loadgen_wait && [[ $(e2e_json_get "$E2E_LOADGEN_JSON" failed) == 0 ]] && e2e_pass "no failed request"
#   e2e_summary                                # prints counts; returns 1 if anything failed
#
# Containers: rootfs skeleton from scripts/podman-setup.sh, host /usr bind-mounted read-only, tests/e2e/apps at
# /app (read-only), a tmpfs /tmp, `-p 127.0.0.1:PORT:PORT`, $PORT in the environment, always `--runtime runc`.
# Every container is named sde2e-<name>-<pid of the test shell> and labelled with that pid, so a later run can
# remove what an aborted run left behind without touching the containers of a run still in progress.

E2E_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
E2E_REPO=$(cd "$E2E_DIR/../.." && pwd)
# The binary under test ($SIGDRAIN), for scenario scripts; absolute, since scripts hand it to units and containers.
E2E_SIGDRAIN=$(realpath -m "${SIGDRAIN:-$E2E_REPO/build/sigdrain}")
E2E_APPS_DIR=${E2E_APPS_DIR:-$E2E_DIR/apps}
E2E_ROOTFS=${SIGDRAIN_E2E_ROOTFS:-/var/lib/sigdrain-e2e/rootfs}
E2E_PREFIX=${SIGDRAIN_E2E_PREFIX:-sde2e-} # container names; parallel worktrees set their own
E2E_OWNER_LABEL=sigdrain-e2e.owner-pid
E2E_RUN_ID=$$
E2E_WORK_DIR=""        # per-run temp dir (loadgen output), made by e2e_init
E2E_CONTAINERS=()      # full names of containers this run made
E2E_PASSED=0
E2E_FAILED=0
E2E_ELAPSED_MS=0       # set by e2e_time_ms
E2E_LAST_STATUS=0      # exit status of the command e2e_time_ms ran
E2E_LOADGEN_PID=""
E2E_LOADGEN_OUT=""
E2E_LOADGEN_JSON=""    # set by e2e_loadgen_wait
E2E_PIN_DIR=""         # bpffs directory for the daemons' pinned socket maps (set by e2e_init); removed by the cleanup
E2E_DAEMON_PID=""      # a `sigdrain daemon` the script started in the background; stopped by the cleanup

e2e_log() { echo "e2e: $*" >&2; }
e2e_die() { echo "e2e: error: $*" >&2; exit 2; }

e2e_pass() { E2E_PASSED=$((E2E_PASSED + 1)); echo "PASS: $*"; }
e2e_fail() { E2E_FAILED=$((E2E_FAILED + 1)); echo "FAIL: $*"; }

# e2e_judge_error WHAT: a Python judge (loadgen.py, prom_parse.py, an inline json reader) failed. Often called
# inside $(...), where e2e_fail's count would be lost, so it is kept in a file that e2e_summary counts.
e2e_judge_error() {
  echo "FAIL: judge: $*" >&2
  [[ -n ${E2E_WORK_DIR:-} ]] && echo "$*" >>"$E2E_WORK_DIR/judge_errors"
}

# Prints the counts; returns 1 if any check failed, any judge failed or none ran.
e2e_summary() {
  local judge_errors=0
  [[ -n ${E2E_WORK_DIR:-} && -s $E2E_WORK_DIR/judge_errors ]] && judge_errors=$(wc -l <"$E2E_WORK_DIR/judge_errors")
  ((judge_errors > 0)) && sed 's/^/  judge failed: /' "$E2E_WORK_DIR/judge_errors"
  echo "e2e: $E2E_PASSED passed, $E2E_FAILED failed, $judge_errors judge errors"
  ((E2E_FAILED == 0 && judge_errors == 0 && E2E_PASSED > 0))
}

e2e_now_ms() { echo $(($(date +%s%N) / 1000000)); }

# Runs a command and stores its wall time in E2E_ELAPSED_MS and its status in E2E_LAST_STATUS; returns 0 so
# callers under `set -e` can inspect a failing command's status.
e2e_time_ms() {
  local start
  start=$(date +%s%N)
  E2E_LAST_STATUS=0
  "$@" || E2E_LAST_STATUS=$?
  E2E_ELAPSED_MS=$((($(date +%s%N) - start) / 1000000))
  return 0
}

# A TCP port that is free on 127.0.0.1 right now.
e2e_free_port() {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

e2e_container_name() { echo "${E2E_PREFIX}$1-${E2E_RUN_ID}"; }

# Removes sde2e- containers whose owning test shell no longer runs (leftovers of aborted runs).
e2e_remove_leftovers() {
  local name owner
  while read -r name owner; do
    [[ $name == "$E2E_PREFIX"* ]] || continue
    if [[ $owner =~ ^[0-9]+$ ]] && kill -0 "$owner" 2>/dev/null && [[ $owner != "$E2E_RUN_ID" ]]; then
      continue # another run in progress owns it
    fi
    e2e_log "removing leftover container $name"
    timeout 30 podman rm -f -t 0 "$name" >/dev/null 2>&1 || true
  done < <(timeout 30 podman ps -a --filter "name=^${E2E_PREFIX}" \
    --format "{{.Names}} {{index .Labels \"$E2E_OWNER_LABEL\"}}" 2>/dev/null)
}

# Stops the daemon in E2E_DAEMON_PID (SIGINT: it finishes the drains in progress, none between tests, and exits)
# and waits for it.
e2e_stop_daemon() {
  [[ -n $E2E_DAEMON_PID ]] || return 0
  kill -INT "$E2E_DAEMON_PID" 2>/dev/null
  wait "$E2E_DAEMON_PID" 2>/dev/null
  E2E_DAEMON_PID=""
}

# Stops the daemon and the load generator and removes this run's containers and temp dir. Safe to call more
# than once.
e2e_cleanup() {
  local name
  e2e_stop_daemon
  if [[ -n $E2E_LOADGEN_PID ]]; then
    kill "$E2E_LOADGEN_PID" 2>/dev/null || true
    wait "$E2E_LOADGEN_PID" 2>/dev/null || true
    E2E_LOADGEN_PID=""
  fi
  for name in "${E2E_CONTAINERS[@]}"; do
    timeout 30 podman rm -f -t 0 "$name" >/dev/null 2>&1 || true
  done
  E2E_CONTAINERS=()
  [[ -n $E2E_PIN_DIR && -d $E2E_PIN_DIR ]] && rm -rf "$E2E_PIN_DIR"
  if [[ -n $E2E_WORK_DIR && -d $E2E_WORK_DIR ]]; then
    rm -rf "$E2E_WORK_DIR"
  fi
  E2E_WORK_DIR=""
}

e2e_on_exit() {
  local status=$?
  e2e_cleanup
  exit "$status"
}

# Checks prerequisites, removes leftovers, creates the temp dir and installs the cleanup trap.
e2e_init() {
  [[ $(id -u) -eq 0 ]] || e2e_die "end-to-end tests need root (podman with runc)"
  if ! command -v podman >/dev/null || ! command -v runc >/dev/null; then
    e2e_die "podman/runc missing: run scripts/podman-setup.sh"
  fi
  [[ -d $E2E_ROOTFS/usr && -e $E2E_ROOTFS/etc/passwd ]] || e2e_die "no rootfs at $E2E_ROOTFS: run scripts/podman-setup.sh"
  command -v curl >/dev/null || e2e_die "curl missing: run scripts/podman-setup.sh"
  trap e2e_on_exit EXIT
  trap 'exit 130' INT
  trap 'exit 143' TERM
  E2E_WORK_DIR=$(mktemp -d /tmp/sde2e.XXXXXX)
  # The run's daemons pin their socket maps here, not in an installed daemon's /sys/fs/bpf/sigdrain, and the
  # cleanup removes them: no program of a test stays attached after it.
  E2E_PIN_DIR=/sys/fs/bpf/${E2E_PREFIX}pins-$$
  e2e_remove_leftovers
}

# e2e_run_container NAME PORT [PODMAN-RUN-OPTIONS... --] CMD...
# Starts a detached container named $(e2e_container_name NAME). If the arguments after PORT contain "--", those
# before it are extra `podman run` options (labels, -e, --stop-signal, ...). Returns podman's status.
e2e_run_container() {
  local name port full
  name=$1 port=$2
  shift 2
  local -a options=() command=("$@")
  local i
  for ((i = 1; i <= $#; i++)); do
    if [[ ${!i} == "--" ]]; then
      options=("${@:1:i-1}")
      command=("${@:i+1}")
      break
    fi
  done
  ((${#command[@]})) || e2e_die "e2e_run_container $name: no command"
  full=$(e2e_container_name "$name")
  E2E_CONTAINERS+=("$full")
  timeout 60 podman --runtime runc run -d --name "$full" \
    --label "$E2E_OWNER_LABEL=$E2E_RUN_ID" \
    -v /usr:/usr:ro -v "$E2E_APPS_DIR:/app:ro" --tmpfs /tmp -w /app \
    -e "PORT=$port" -e PYTHONDONTWRITEBYTECODE=1 -e PYTHONUNBUFFERED=1 \
    -p "127.0.0.1:$port:$port" \
    "${options[@]}" \
    --rootfs "$E2E_ROOTFS" "${command[@]}" >/dev/null
}

# e2e_wait_http PORT [TIMEOUT_S=15] [PATH=/]: waits until the path answers 200; returns 1 on timeout.
e2e_wait_http() {
  local port=$1 timeout_s=${2:-15} path=${3:-/}
  local deadline=$(($(e2e_now_ms) + timeout_s * 1000))
  while (($(e2e_now_ms) < deadline)); do
    curl -fs -m 2 -o /dev/null "http://127.0.0.1:$port$path" && return 0
    sleep 0.2
  done
  return 1
}

# e2e_start_scenario ID PORT [NAME=ID [PODMAN-RUN-OPTIONS...]]: starts one of the app scenarios
# (tests/e2e/README.md) as container NAME, with extra `podman run` options (labels, ...):
#   a  Flask, SIGTERM handler waits inline          a2 the same, waiting in a thread
#   b  uWSGI (SIGTERM = brutal reload)              c  supervisord running b's uWSGI (stopsignal HUP)
#   d  http.server PID 1 without a SIGTERM handler  e  d behind `sh -c` that forwards nothing
#   f  gunicorn, 4 sync workers
e2e_start_scenario() {
  local id=$1 port=$2 name=${3:-$1}
  local -a options=("${@:4}") command
  case $id in
    a | a2)
      options+=(-e "FLASK_TRAP_DRAIN=$([[ $id == a ]] && echo inline || echo thread)")
      command=(python3 /app/flask_trap.py "$port")
      ;;
    b) command=(uwsgi --plugin python3 --http-socket ":$port" --master --processes 2 --threads 2 --need-app
      --disable-logging --wsgi-file /app/wsgi_app.py) ;;
    c) command=(supervisord -n -c /app/supervisord.conf) ;;
    d) command=(python3 /app/plain_http.py "$port") ;;
    # The trailing echo keeps sh from exec'ing python3: the shell stays PID 1 and python3 is its child.
    e) command=(sh -c "python3 /app/plain_http.py $port; echo plain_http exited") ;;
    f) command=(gunicorn -w 4 -k sync --graceful-timeout 10 -b "0.0.0.0:$port" --chdir /app wsgi_app:app) ;;
    *) e2e_die "unknown scenario $id" ;;
  esac
  e2e_run_container "$name" "$port" "${options[@]}" -- "${command[@]}"
}

# e2e_wait_not_running NAME [TIMEOUT_S=5]: waits until podman no longer reports the container running (or it is
# gone); returns 1 on timeout.
e2e_wait_not_running() {
  local name=$1 timeout_s=${2:-5}
  local deadline=$(($(e2e_now_ms) + timeout_s * 1000))
  while e2e_container_running "$name"; do
    (($(e2e_now_ms) < deadline)) || return 1
    sleep 0.05
  done
}

e2e_container_pid() { podman inspect -f '{{.State.Pid}}' "$1" 2>/dev/null; }
e2e_container_running() { [[ $(podman inspect -f '{{.State.Running}}' "$1" 2>/dev/null) == true ]]; }
e2e_container_exit_code() { podman inspect -f '{{.State.ExitCode}}' "$1" 2>/dev/null; }

# e2e_loadgen_start PORT [LOADGEN-OPTIONS...]: runs tests/e2e/loadgen.py in the background; its JSON line is kept
# for e2e_loadgen_wait. One load generator at a time.
e2e_loadgen_start() {
  local port=$1
  shift
  [[ -z $E2E_LOADGEN_PID ]] || e2e_die "a load generator is already running"
  E2E_LOADGEN_OUT=$E2E_WORK_DIR/loadgen.$(e2e_now_ms).json
  python3 "$E2E_DIR/loadgen.py" --port "$port" "$@" >"$E2E_LOADGEN_OUT" &
  E2E_LOADGEN_PID=$!
}

# Marks "stop began" in the load generator (it keeps sending for its --lb-lag, then drains).
e2e_loadgen_begin_stop() {
  [[ -n $E2E_LOADGEN_PID ]] || e2e_die "no load generator running"
  kill -USR1 "$E2E_LOADGEN_PID"
}

# e2e_loadgen_wait [TIMEOUT_S=60]: waits for the load generator and stores its JSON line in E2E_LOADGEN_JSON (not
# printed: a $(...) subshell could not reap it). Returns 1 if it did not finish in time (it is killed) or printed
# nothing.
e2e_loadgen_wait() {
  local timeout_s=${1:-60} pid=$E2E_LOADGEN_PID
  [[ -n $pid ]] || e2e_die "no load generator running"
  E2E_LOADGEN_JSON=""
  local deadline=$(($(e2e_now_ms) + timeout_s * 1000))
  while kill -0 "$pid" 2>/dev/null && (($(e2e_now_ms) < deadline)); do sleep 0.1; done
  local finished=1
  if kill -0 "$pid" 2>/dev/null; then
    kill "$pid" 2>/dev/null
    finished=0
    e2e_log "load generator did not finish within ${timeout_s}s"
  fi
  local status=0
  wait "$pid" 2>/dev/null || status=$?
  E2E_LOADGEN_PID=""
  if ((finished && status != 0)); then
    e2e_judge_error "loadgen.py exited with status $status"
    return 1
  fi
  ((finished)) && [[ -s $E2E_LOADGEN_OUT ]] || return 1
  E2E_LOADGEN_JSON=$(<"$E2E_LOADGEN_OUT")
}

# e2e_json_get JSON KEY: prints one top-level field of a JSON object (objects as compact JSON, null as "null").
e2e_json_get() {
  python3 -c 'import json, sys; v = json.loads(sys.argv[1]).get(sys.argv[2]); print(json.dumps(v, separators=(",", ":")) if isinstance(v, (dict, list)) else ("null" if v is None else v))' "$1" "$2" ||
    { e2e_judge_error "e2e_json_get $2 of: ${1:0:200}"; return 1; }
}

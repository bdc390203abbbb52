#!/usr/bin/env bash
# The sigdrain image run the way the DaemonSet runs it (deploy/kubernetes/daemonset.yaml), under podman: privileged,
# the host's PID and cgroup namespaces, the host paths the DaemonSet mounts, its resource limits. The daemon in the
# image must guard a sibling container: `podman stop` of a uWSGI app under load loses no request (without sigdrain
# uWSGI's brutal reload cuts the requests in flight), and the daemon logs the hold. It must leave its own container
# alone: `podman stop` of the daemon's container ends it at once with status 0.
#
# There is no podman binary in the image: the daemon reads podman's state files instead (docs/kubernetes.md).
# Builds the image first (scripts/image/build-image.sh) unless SIGDRAIN_IMAGE names one. Needs root and scripts/podman-setup.sh; run it under
# `flock /tmp/sigdrain-podman.lock` where other podman tests may run. About 1 minute once the image is cached.
set -uo pipefail
# shellcheck source=tests/e2e/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
e2e_init

SIGDRAIN=$E2E_SIGDRAIN
STATE_DIR=$E2E_WORK_DIR/state
DAEMONSET=$E2E_REPO/deploy/kubernetes/daemonset.yaml
DAEMON=$(e2e_container_name daemon)

# SIGDRAIN_IMAGE: an image built elsewhere (e.g. from the Dockerfile) instead of the one scripts/image builds.
IMAGE=${SIGDRAIN_IMAGE:-}
if [[ -z $IMAGE ]]; then
  e2e_time_ms "$E2E_REPO/scripts/image/build-image.sh" "$SIGDRAIN" >/dev/null
  ((E2E_LAST_STATUS == 0)) || e2e_die "the image did not build"
  echo "  image built (or found up to date) in ${E2E_ELAPSED_MS} ms"
  IMAGE=localhost/sigdrain:$("$SIGDRAIN" version | awk '{ print $2; exit }')
fi

# The DaemonSet's limits, so that the daemon in the image is held to what the manifest promises.
read -r CPU_LIMIT MEMORY_LIMIT < <(python3 -c 'import sys, yaml
c = yaml.safe_load(open(sys.argv[1]))["spec"]["template"]["spec"]["containers"][0]["resources"]["limits"]
print(c["cpu"], c["memory"].replace("Mi", "m").replace("Gi", "g"))' "$DAEMONSET")
[[ -n $MEMORY_LIMIT ]] || e2e_die "no resource limits in $DAEMONSET"

# The metrics endpoint (the DaemonSet's probes) is checked when the binary has it.
daemon_args=(daemon --config /etc/sigdrain/daemon.conf)
"$SIGDRAIN" daemon --help 2>&1 | grep -q -- --bpf-pin-dir && daemon_args+=(--bpf-pin-dir "$E2E_PIN_DIR")
METRICS_PORT=""
if "$SIGDRAIN" daemon --help 2>&1 | grep -q -- --metrics-address; then
  METRICS_PORT=$(e2e_free_port)
  daemon_args+=(--metrics-address "127.0.0.1:$METRICS_PORT")
else
  echo "  this sigdrain has no --metrics-address: the probes' endpoints are not checked"
fi

mkdir -m 0700 "$STATE_DIR"
# The DaemonSet's host paths at the host's own paths (podman's state instead of containerd's and CRI-O's).
# podman's storage is bound without its submounts (`bind`, not `rbind`): the daemon reads files there, and
# copies of the containers' rootfs and shm mounts would outlive the containers in the daemon's mount namespace.
E2E_CONTAINERS+=("$DAEMON")
if ! timeout 60 podman --runtime runc run -d --name "$DAEMON" --label "$E2E_OWNER_LABEL=$E2E_RUN_ID" \
  --privileged --pid=host --cgroupns=host --network=host \
  --memory "$MEMORY_LIMIT" --cpus "$CPU_LIMIT" \
  -v /sys/fs/bpf:/sys/fs/bpf -v /sys/kernel/tracing:/sys/kernel/tracing -v /sys/fs/cgroup:/sys/fs/cgroup:ro \
  -v "$STATE_DIR:/run/sigdrain" \
  -v /run/containers/storage:/run/containers/storage:ro,bind \
  -v /var/lib/containers/storage/overlay-containers:/var/lib/containers/storage/overlay-containers:ro,bind \
  "$IMAGE" "${daemon_args[@]}" >/dev/null; then
  e2e_die "the image's container did not start"
fi
# (Read whole before grep -q: a pipe would SIGPIPE podman logs and fail the pipeline under pipefail.)
daemon_log() { podman logs "$DAEMON" 2>&1; }

# Ready: the control socket answers (BPF loaded, the first discovery done).
ready=0
for _ in $(seq 100); do
  if podman exec "$DAEMON" sigdrain ps --state-dir /run/sigdrain >/dev/null 2>&1; then ready=1; break; fi
  e2e_container_running "$DAEMON" || break
  sleep 0.1
done
((ready)) || e2e_die "the daemon in the image did not come up: $(daemon_log | tail -5)"
e2e_pass "the daemon in the image is up"

if [[ -n $METRICS_PORT ]]; then
  for path in /healthz /readyz; do
    ok=0
    for _ in $(seq 50); do
      curl -fs -m 2 -o /dev/null "http://127.0.0.1:$METRICS_PORT$path" && { ok=1; break; }
      sleep 0.1
    done
    ((ok)) && e2e_pass "$path answers 200 (the DaemonSet's probe)" || e2e_fail "$path did not answer 200"
  done
fi

# A uWSGI app next to it, guarded.
port=$(e2e_free_port)
APP=$(e2e_container_name image-app)
e2e_start_scenario b "$port" image-app || e2e_die "the app container did not start"
e2e_wait_http "$port" || e2e_die "the app did not answer"
sleep 1 # the daemon's discovery attaches to the new init
ps_out=$(podman exec "$DAEMON" sigdrain ps --json --state-dir /run/sigdrain)
app_line=$(grep "\"$APP\"" <<<"$ps_out")
if [[ -z $app_line ]]; then
  e2e_fail "ps in the image does not list $APP: $ps_out"
else
  guarded=$(e2e_json_get "$app_line" guarded)
  [[ ${guarded,,} == true && $(e2e_json_get "$app_line" runtime) == podman ]] &&
    e2e_pass "ps in the image: $APP is guarded, known by name as a podman container" || e2e_fail "ps: $app_line"
fi
grep -q "\"$DAEMON\"" <<<"$ps_out" && e2e_fail "the daemon lists its own container: $ps_out" ||
  e2e_pass "the daemon does not list its own container"
grep -q "running in container $DAEMON" <<<"$(daemon_log)" &&
  e2e_pass "the daemon knows the container it runs in" || e2e_fail "no 'running in container $DAEMON' in the log"

e2e_loadgen_start "$port" --lb-lag 1200
sleep 2.5
e2e_loadgen_begin_stop
e2e_time_ms timeout 60 podman stop -t 20 "$APP" >/dev/null
stop_ms=$E2E_ELAPSED_MS
if e2e_loadgen_wait; then
  failed=$(e2e_json_get "$E2E_LOADGEN_JSON" failed)
  sent=$(e2e_json_get "$E2E_LOADGEN_JSON" sent)
  echo "  podman stop took ${stop_ms} ms; $sent requests sent, $failed failed"
  ((sent > 0)) && [[ $failed == 0 ]] && e2e_pass "no failed request while the guarded app stopped" ||
    e2e_fail "$failed requests failed: $E2E_LOADGEN_JSON"
else
  e2e_fail "load generator"
fi
((stop_ms < 10000)) && e2e_pass "the app stopped in ${stop_ms} ms, long before podman's 20 s SIGKILL" ||
  e2e_fail "podman stop took ${stop_ms} ms"
[[ $(e2e_container_exit_code "$APP") == 0 ]] && e2e_pass "the app exited 0" ||
  e2e_fail "the app's exit code: $(e2e_container_exit_code "$APP")"
grep -q "holding SIGTERM sent to $APP" <<<"$(daemon_log)" && e2e_pass "the daemon in the image held the SIGTERM" ||
  e2e_fail "no hold in the daemon's log"
grep -q "stopped $APP (podman) in .*: graceful" <<<"$(daemon_log)" && e2e_pass "the daemon's stop record says graceful" ||
  e2e_fail "no graceful stop record"

# What the daemon used against the DaemonSet's memory limit (cgroup v1 or v2).
cid=$(podman inspect -f '{{.Id}}' "$DAEMON")
for f in /sys/fs/cgroup/memory/libpod_parent/libpod-$cid/memory.max_usage_in_bytes \
  /sys/fs/cgroup/libpod_parent/libpod-$cid/memory.peak; do
  [[ -r $f ]] && echo "  the daemon's peak memory: $(($(<"$f") / 1048576)) MiB (limit $MEMORY_LIMIT)" && break
done

# Its own stop: the daemon's container is not guarded, so SIGTERM reaches the daemon, which lets go and exits.
e2e_time_ms timeout 60 podman stop -t 10 "$DAEMON" >/dev/null
code=$(e2e_container_exit_code "$DAEMON")
((E2E_ELAPSED_MS < 5000)) && [[ $code == 0 ]] && e2e_pass "podman stop of the daemon's container: exit 0 in ${E2E_ELAPSED_MS} ms" ||
  e2e_fail "podman stop of the daemon's container took ${E2E_ELAPSED_MS} ms, exit code $code"

echo "--- the daemon's log"
daemon_log | sed 's/^/  /' | tail -20
e2e_summary

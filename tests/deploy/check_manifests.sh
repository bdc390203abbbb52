#!/usr/bin/env bash
# Checks what deploy/ ships: yamllint (strict) on the Kubernetes manifests, their required fields
# (check_manifests.py), the ConfigMap's config and deploy/daemon.conf with the binary's own --check-config, and the
# systemd unit with `systemd-analyze verify`. Then proves the checks can fail: each of a set of broken copies of
# deploy/ must be refused for the reason it was broken.
#
#   tests/deploy/check_manifests.sh            (binary: $SIGDRAIN or build/sigdrain)
set -uo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
REPO=$(cd "$HERE/../.." && pwd)
SIGDRAIN=$(realpath -m "${SIGDRAIN:-$REPO/build/sigdrain}") # absolute: it becomes the unit's ExecStart

# shellcheck source=scripts/lib/packages.sh
source "$REPO/scripts/lib/packages.sh"
ensure_packages yamllint python3-yaml || { echo "check_manifests: cannot install yamllint, python3-yaml" >&2; exit 2; }
[[ -x $SIGDRAIN ]] || { echo "check_manifests: no sigdrain binary at $SIGDRAIN: run \`make build\` first" >&2; exit 2; }

# check_deploy DIR: every check on the deploy tree DIR; prints its problems, returns 1 if there is any.
check_deploy() {
  local dir=$1 status=0 out conf unit
  yamllint --strict -f parsable -c "$REPO/deploy/.yamllint" "$dir/kubernetes" || status=1
  python3 "$HERE/check_manifests.py" "$dir" || status=1

  conf=$(mktemp)
  python3 -c 'import sys, yaml
for d in yaml.safe_load_all(open(sys.argv[1])):
    print(d["data"]["daemon.conf"], end="")' "$dir/kubernetes/configmap.yaml" >"$conf" 2>/dev/null
  for f in "$conf" "$dir/daemon.conf"; do
    out=$("$SIGDRAIN" daemon --config "$f" --check-config 2>&1 >/dev/null) ||
      { echo "FAIL: sigdrain rejects the config $([[ $f == "$conf" ]] && echo "of the ConfigMap" || echo "$f"): $out"; status=1; }
  done
  rm -f "$conf"

  if command -v systemd-analyze >/dev/null; then
    # verify wants the unit's programs to exist: point it at the binary under test. It reports problems as
    # warnings and still exits 0, so any output is a failure.
    unit=$(mktemp -d)/sigdrain.service
    sed "s#/usr/bin/sigdrain#$SIGDRAIN#g" "$dir/systemd/sigdrain.service" >"$unit"
    out=$(systemd-analyze verify "$unit" 2>&1)
    [[ -z $out ]] || { echo "FAIL: systemd-analyze verify: $out"; status=1; }
    rm -rf "$(dirname "$unit")"
  else
    echo "check_manifests: systemd-analyze not available: the systemd unit is not verified"
  fi
  return $status
}

failed=0
echo "--- deploy/ as shipped"
if check_deploy "$REPO/deploy"; then echo "PASS: deploy/ passes every check"; else echo "FAIL: deploy/"; failed=1; fi

# broken FILE SED-EXPRESSION EXPECTED: a copy of deploy/ with FILE edited must fail, saying EXPECTED.
broken() {
  local file=$1 edit=$2 expected=$3 copy out
  copy=$(mktemp -d)
  cp -a "$REPO/deploy/." "$copy/"
  sed -i "$edit" "$copy/$file"
  if cmp -s "$REPO/deploy/$file" "$copy/$file"; then
    echo "FAIL: the edit '$edit' changed nothing in $file"
    failed=1
  elif out=$(check_deploy "$copy" 2>&1); then
    echo "FAIL: a copy with $file edited by '$edit' passed"
    failed=1
  elif [[ $out != *"$expected"* ]]; then
    echo "FAIL: a copy with $file edited by '$edit' failed, but not for \"$expected\": $out"
    failed=1
  else
    echo "PASS: refused with $file edited by '$edit'"
  fi
  rm -rf "$copy"
}
echo "--- broken copies must fail"
# FILE|SED-EXPRESSION|EXPECTED, one broken copy each (on fd 3: the checks must not eat the list from stdin).
while IFS='|' read -r -u 3 file edit expected; do broken "$file" "$edit" "$expected"; done 3<<'EOF'
kubernetes/daemonset.yaml|s/hostPID: true/hostPID: false/|hostPID must be true
kubernetes/daemonset.yaml|s/privileged: true/privileged: false/|must be privileged
kubernetes/daemonset.yaml|s#mountPath: /sys/kernel/tracing#mountPath: /tracing#|is mounted at /tracing
kubernetes/daemonset.yaml|/^            - name: cgroupfs$/,+3d|host path /sys/fs/cgroup (cgroupfs) is not mounted
kubernetes/daemonset.yaml|s#path: /readyz#path: /ready#|readinessProbe must GET /readyz
kubernetes/daemonset.yaml|s/serviceAccountName: sigdrain/serviceAccountName: default/|serviceAccountName
kubernetes/daemonset.yaml|s/terminationGracePeriodSeconds: 45/terminationGracePeriodSeconds: 30/|must cover the longest drain
kubernetes/daemonset.yaml|s/maxUnavailable: 1/maxSurge: 1/|maxSurge must be 0
kubernetes/daemonset.yaml|s/failureThreshold: 30/failureThreshold: 3/|the startupProbe allows 6 s
kubernetes/configmap.yaml|s/max-hold-ms = 30000/max-hold-ms = 60000/|max-hold-ms, 60 s
kubernetes/daemonset.yaml|/- operator: Exists/d|tolerations
kubernetes/daemonset.yaml|/memory: 256Mi/d|resources.limits.memory
kubernetes/daemonset.yaml|s/^      hostPID: true/      hostPID: true  /|trailing-spaces
kubernetes/configmap.yaml|s/log-format = json/log-format = yaml/|log-format = yaml
kubernetes/configmap.yaml|s/0.0.0.0:9464/0.0.0.0:9465/|not the metrics-address port
kubernetes/kustomization.yaml|/- daemonset.yaml/d|kustomization.yaml resources
daemon.conf|s/guard = all/guard = some/|guard = some
systemd/sigdrain.service|s/Restart=on-failure/Restart=sometimes/|restart specifier
EOF
exit $failed

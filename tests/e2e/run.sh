#!/usr/bin/env bash
# Runs every end-to-end scenario script (tests/e2e/*_e2e.sh... see the list below) and sums their checks.
set -uo pipefail
dir=$(cd "$(dirname "$0")" && pwd)
scripts=("$dir/trace_podman.sh" "$dir/safe_stop.sh" "$dir/daemon.sh" "$dir/bad_input.sh" "$dir/invalid_utf8.sh" "$dir/load.sh" "$dir/metrics.sh")
# A sigdrain daemon already on this host would guard the scenarios' containers before theirs do.
running=$("$dir/running_daemons.sh")
[[ -z $running ]] || { echo "e2e: a sigdrain daemon already runs (pid ${running%%$'\n'*}): stop it first" >&2; exit 2; }
status=0
for s in "${scripts[@]}"; do
  echo "--- e2e: $(basename "$s")"
  "$s" || status=1
done
exit $status

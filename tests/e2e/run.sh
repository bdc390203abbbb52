#!/usr/bin/env bash
# Runs every end-to-end scenario script (tests/e2e/*_e2e.sh... see the list below) and sums their checks.
set -uo pipefail
dir=$(cd "$(dirname "$0")" && pwd)
scripts=("$dir/trace_podman.sh" "$dir/safe_stop.sh" "$dir/daemon.sh" "$dir/bad_input.sh" "$dir/invalid_utf8.sh" "$dir/load.sh" "$dir/metrics.sh")
status=0
for s in "${scripts[@]}"; do
  echo "--- e2e: $(basename "$s")"
  "$s" || status=1
done
exit $status

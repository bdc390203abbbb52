#!/usr/bin/env bash
# Runs one command in a VM per kernel and tabulates the results. Nothing runs on the host.
#   scripts/kernels/matrix.sh [--kernels "5.10 6.1 6.12"] [--cache DIR] [--timeout S] [--file SRC[:DEST]]...
#                             [--append KERNEL_ARGS] [--bpf-lsm-tests REGEX] -- CMD ARGS...
# Fetches missing kernels (fetch-kernels.sh), runs CMD in each with run-in-vm.sh (which copies CMD, the
# --file entries and their shared libraries in), prints each kernel's output under a header, then
#   kernel | result | seconds | BPF LSM | skipped
# and the line `N passed, N failed`. Exits 1 if any kernel failed. `skipped` counts GoogleTest's skipped tests.
# A kernel whose active LSMs include bpf (and lockdown is none) fails when a test matching --bpf-lsm-tests
# (default `^LsmHold`) was skipped there: the BPF LSM tests must have run wherever they can.
# Example:
#   scripts/kernels/matrix.sh --file build/tests/data:/data -- build/tests/bpf_tests --gtest_filter='Signals*'
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
source "$here/lib.sh"

usage() {
  sed -n '2,4p' "$0" | sed 's/^# \{0,1\}//' >&2
  exit 2
}

kernels=$KERNELS_DEFAULT_VERSIONS cache=$KERNELS_DEFAULT_CACHE vm_args=() bpf_lsm_tests='^LsmHold'
while (($#)); do
  case "$1" in
    --kernels) kernels=${2:?}; shift 2 ;;
    --cache) cache=${2:?}; shift 2 ;;
    --timeout | --file | --append) vm_args+=("$1" "${2:?}"); shift 2 ;;
    --bpf-lsm-tests) bpf_lsm_tests=${2:?}; shift 2 ;;
    --) shift; break ;;
    *) usage ;;
  esac
done
(($#)) || usage
read -r -a versions <<<"$kernels"
((${#versions[@]})) || usage

"$here/fetch-kernels.sh" "$cache" "${versions[@]}"

work=$(mktemp -d /tmp/sigdrain-matrix.XXXXXX)
trap 'rm -rf "$work"' EXIT

results=() passed=0 failed=0
for v in "${versions[@]}"; do
  echo "=== kernel $v ($(sed -n 's/^Package: //p' "$cache/$v/package")) ==="
  start=$SECONDS
  set +e
  "$here/run-in-vm.sh" --kernel "$cache/$v/vmlinuz" --facts "$work/$v.facts" "${vm_args[@]}" -- "$@" | tee "$work/$v.out"
  status=${PIPESTATUS[0]}
  set -e
  case $status in
    0) result=passed ;;
    124) result="timeout" ;;
    125) result="vm error" ;;
    *) result="failed (exit $status)" ;;
  esac
  # GoogleTest prints "[  SKIPPED ] Suite.Name (N ms)" once per skipped test (the summary repeats them without time).
  skipped=$(sed -nE 's/^\[  SKIPPED \] ([^ ]+) \([0-9]+ ms\)$/\1/p' "$work/$v.out" | sort -u)
  lsms=$(sed -n 's/^lsms=//p' "$work/$v.facts" 2>/dev/null)
  lockdown=$(sed -n 's/^lockdown=//p' "$work/$v.facts" 2>/dev/null)
  bpf_lsm=no
  [[ ",$lsms," == *,bpf,* && "${lockdown:-none}" == none ]] && bpf_lsm=yes
  if ((status == 0)) && [[ $bpf_lsm == yes ]] && grep -qE "$bpf_lsm_tests" <<<"$skipped"; then
    echo "matrix: $v: BPF LSM is active (LSMs: $lsms) but these tests were skipped:" \
      "$(grep -E "$bpf_lsm_tests" <<<"$skipped" | paste -sd' ')" >&2
    status=1 result="failed (LSM skipped)"
  fi
  if ((status == 0)); then passed=$((passed + 1)); else failed=$((failed + 1)); fi
  results+=("$v|$result|$((SECONDS - start))|$bpf_lsm|$(grep -c . <<<"$skipped" || true)")
done

echo
printf '%-7s | %-20s | %7s | %-7s | %s\n' kernel result seconds "BPF LSM" skipped
printf '%-7s-+-%-20s-+-%7s-+-%-7s-+-%s\n' ------- -------------------- ------- ------- -------
for row in "${results[@]}"; do
  IFS='|' read -r v result secs bpf_lsm skipped <<<"$row"
  printf '%-7s | %-20s | %7s | %-7s | %7s\n' "$v" "$result" "$secs" "$bpf_lsm" "$skipped"
done
echo "$passed passed, $failed failed"
((failed == 0))

#!/usr/bin/env bash
# Runs one command in a VM per kernel and tabulates the results. Nothing runs on the host.
#   scripts/kernels/matrix.sh [--kernels "5.10 6.1 6.12"] [--cache DIR] [--timeout S] [--file SRC[:DEST]]...
#                             [--append KERNEL_ARGS] -- CMD ARGS...
# Fetches missing kernels (fetch-kernels.sh), runs CMD in each with run-in-vm.sh (which copies CMD, the
# --file entries and their shared libraries in), prints each kernel's output under a header, then
#   kernel | result | seconds
# and the line `N passed, N failed`. Exits 1 if any kernel failed.
# Example:
#   scripts/kernels/matrix.sh --file build/tests/data:/data -- build/tests/bpf_tests --gtest_filter='Signals*'
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
source "$here/lib.sh"

usage() {
  sed -n '2,4p' "$0" | sed 's/^# \{0,1\}//' >&2
  exit 2
}

kernels=$KERNELS_DEFAULT_VERSIONS cache=$KERNELS_DEFAULT_CACHE vm_args=()
while (($#)); do
  case "$1" in
    --kernels) kernels=${2:?}; shift 2 ;;
    --cache) cache=${2:?}; shift 2 ;;
    --timeout | --file | --append) vm_args+=("$1" "${2:?}"); shift 2 ;;
    --) shift; break ;;
    *) usage ;;
  esac
done
(($#)) || usage
read -r -a versions <<<"$kernels"
((${#versions[@]})) || usage

"$here/fetch-kernels.sh" "$cache" "${versions[@]}"

results=() passed=0 failed=0
for v in "${versions[@]}"; do
  echo "=== kernel $v ($(sed -n 's/^Package: //p' "$cache/$v/package")) ==="
  start=$SECONDS
  set +e
  "$here/run-in-vm.sh" --kernel "$cache/$v/vmlinuz" "${vm_args[@]}" -- "$@"
  status=$?
  set -e
  case $status in
    0) result=passed ;;
    124) result="timeout" ;;
    125) result="vm error" ;;
    *) result="failed (exit $status)" ;;
  esac
  if ((status == 0)); then passed=$((passed + 1)); else failed=$((failed + 1)); fi
  results+=("$v|$result|$((SECONDS - start))")
done

echo
printf '%-7s | %-18s | %s\n' kernel result seconds
printf '%-7s-+-%-18s-+-%s\n' ------- ------------------ -------
for row in "${results[@]}"; do
  IFS='|' read -r v result secs <<<"$row"
  printf '%-7s | %-18s | %7s\n' "$v" "$result" "$secs"
done
echo "$passed passed, $failed failed"
((failed == 0))

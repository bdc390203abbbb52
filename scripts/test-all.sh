#!/usr/bin/env bash
# The README's test command (`make test`): sets up a fresh Debian 12 machine and runs every test tier.
# Each tier runs even when an earlier one failed, so one run reports everything; the exit status is non-zero
# when any tier failed.
set -uo pipefail
cd "$(dirname "$0")/.."

[[ $(id -u) -eq 0 ]] || { echo "test-all: run as root (BPF, ptrace and podman tests need it)" >&2; exit 2; }

results=()
failed=0
run_tier() {
  local name=$1
  shift
  local start=$SECONDS
  echo "=== tier: $name"
  if "$@"; then
    results+=("$(printf '%-14s pass  %4ds' "$name" $((SECONDS - start)))")
  else
    results+=("$(printf '%-14s FAIL  %4ds' "$name" $((SECONDS - start)))")
    failed=$((failed + 1))
  fi
}

# What sigdrain has pinned on this host before the tiers run: a test daemon pins in a directory of its own and
# removes it; one left behind would keep its socket programs attached to every connection of the host.
sigdrain_pins() { find /sys/fs/bpf -maxdepth 4 -path '/sys/fs/bpf/sigdrain*' 2>/dev/null | sort; }
pins_before=$(sigdrain_pins)
no_new_pins() {
  local new
  new=$(comm -13 <(echo "$pins_before") <(sigdrain_pins))
  [[ -z $new ]] && return 0
  echo "the tests left BPF pins on this host: $(echo "$new" | tr '\n' ' ')" >&2
  return 1
}

run_tier setup bash -c 'scripts/setup.sh && scripts/podman-setup.sh'
run_tier build make build
run_tier unit bash -c 'cd build && ctest -L unit --output-on-failure'
run_tier bpf-host bash -c 'cd build && ctest -L bpf --output-on-failure'
run_tier e2e tests/e2e/run.sh
# pytest's own summary line ("N passed, M failed in T s") is repeated in the summary below.
runtimes_log=build/e2e-runtimes.log
run_tier e2e-runtimes bash -c "make test-runtimes 2>&1 | tee $runtimes_log; exit \${PIPESTATUS[0]}"
run_tier oracle tests/e2e/oracle_sigsnoop.sh
run_tier deploy make test-deploy
run_tier kernels scripts/kernels/matrix.sh -- build/tests/bpf_tests
run_tier fuzz scripts/fuzz.sh 10
# In fuzz's build tree: the same compiler and sanitizers, so only the test binaries are left to build.
run_tier sanitizers env BUILD_DIR=build/fuzz scripts/sanitize.sh
run_tier pins no_new_pins

echo
echo "=== summary"
printf '%s\n' "${results[@]}"
grep -E '^=+ .*(passed|failed|error).* in [0-9.]+s' "$runtimes_log" 2>/dev/null | tail -1 | sed 's/^/e2e-runtimes: /'
echo "tiers: $((${#results[@]} - failed)) passed, $failed failed"
((failed == 0))

#!/usr/bin/env bash
# Builds the test binaries with AddressSanitizer + UndefinedBehaviorSanitizer (build/asan, clang) and runs
# unit_tests and bpf_tests (the latter needs root). Any sanitizer report fails the run: ASan aborts on its first
# error, UBSan is built with -fno-sanitize-recover, and LeakSanitizer reports leaks at exit.
# clang, as scripts/fuzz.sh builds with, so `make test` builds the sanitized modules once for both
# (BUILD_DIR=build/fuzz after fuzz.sh): a gcc ASan build of them took 10 of its 40 minutes here.
# Usage: scripts/sanitize.sh            (BUILD_DIR=... to build elsewhere; JOBS=... for parallelism)
set -uo pipefail
cd "$(dirname "$0")/.."

BUILD_DIR=${BUILD_DIR:-build/asan}
JOBS=${JOBS:-$(nproc)}

if [[ $(id -u) -ne 0 ]]; then
  echo "sanitize: run as root (bpf_tests load BPF programs)" >&2
  exit 2
fi
if ! dpkg-query -W -f='${Status}' libgtest-dev 2>/dev/null | grep -q "install ok installed"; then
  echo "sanitize: build dependencies missing; running scripts/setup.sh"
  scripts/setup.sh || exit 1
fi
# clang's ASan and UBSan runtimes come from Debian's clang-14; scripts/setup.sh installs clang only.
# shellcheck source=scripts/lib/packages.sh
source scripts/lib/packages.sh # cwd is the repository root
ensure_packages clang libclang-rt-14-dev || exit 2

export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:strict_string_checks=1:check_initialization_order=1:detect_stack_use_after_return=1:abort_on_error=0}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
export LSAN_OPTIONS=${LSAN_OPTIONS:-report_objects=1}

start=$SECONDS
echo "=== configure + build $BUILD_DIR (clang, ASan+UBSan)"
if ! cmake -S . -B "$BUILD_DIR" -DCMAKE_C_COMPILER=clang -DCMAKE_CXX_COMPILER=clang++ -DSIGDRAIN_SANITIZE=ON \
  -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null ||
  ! cmake --build "$BUILD_DIR" -j "$JOBS" --target unit_tests bpf_tests; then
  echo "sanitize: build failed after $((SECONDS - start))s"
  exit 1
fi
build_s=$((SECONDS - start))

results=()
failed=0
run_suite() {
  local name=$1
  local t0=$SECONDS
  echo "=== $name"
  if "$BUILD_DIR/tests/$name" --gtest_color=no; then
    results+=("$(printf '%-11s pass  %4ds' "$name" $((SECONDS - t0)))")
  else
    results+=("$(printf '%-11s FAIL  %4ds' "$name" $((SECONDS - t0)))")
    failed=$((failed + 1))
  fi
}
run_suite unit_tests
run_suite bpf_tests

echo
printf '%s\n' "${results[@]}"
echo "sanitize: build ${build_s}s, total $((SECONDS - start))s; $((${#results[@]} - failed)) passed, $failed failed"
((failed == 0))

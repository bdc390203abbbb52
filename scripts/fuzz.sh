#!/usr/bin/env bash
# Builds the libFuzzer harnesses (tests/fuzz/*_fuzzer.cpp) with clang + ASan + UBSan in build/fuzz and runs each for
# SECONDS_PER_HARNESS, starting from its seed corpus in tests/fuzz/corpus/<name>/. New inputs go to
# build/fuzz/corpus/<name>/ (the seed directories stay as they are), crashing inputs to build/fuzz/artifacts/<name>/,
# each run's output to build/fuzz/logs/<name>.log. tests/fuzz/dict/<name>.dict, when present, is the harness's
# libFuzzer dictionary.
# Usage: scripts/fuzz.sh [SECONDS_PER_HARNESS=20] [NAME...]     exit status non-zero when any harness crashed
set -uo pipefail
cd "$(dirname "$0")/.." || exit 2

SECONDS_PER_HARNESS=${1:-20}
shift $(($# > 0 ? 1 : 0))
[[ $SECONDS_PER_HARNESS =~ ^[1-9][0-9]*$ ]] || { echo "usage: scripts/fuzz.sh [SECONDS_PER_HARNESS=20] [NAME...]" >&2; exit 2; }
BUILD_DIR=${BUILD_DIR:-build/fuzz}
JOBS=${JOBS:-$(nproc)}

# clang and its runtimes (libFuzzer, ASan, UBSan) come from Debian's clang-14; scripts/setup.sh installs clang only.
# shellcheck source=scripts/lib/packages.sh
source scripts/lib/packages.sh # cwd is the repository root
ensure_packages clang libclang-rt-14-dev || exit 2

start=$SECONDS
echo "=== configure + build $BUILD_DIR (clang, libFuzzer, ASan+UBSan)"
if ! cmake -S . -B "$BUILD_DIR" -DCMAKE_C_COMPILER=clang -DCMAKE_CXX_COMPILER=clang++ -DSIGDRAIN_SANITIZE=ON \
  -DSIGDRAIN_FUZZ=ON -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null ||
  ! cmake --build "$BUILD_DIR" -j "$JOBS" --target fuzzers; then
  echo "fuzz: build failed after $((SECONDS - start))s"
  exit 1
fi
echo "fuzz: built in $((SECONDS - start))s"

names=("$@")
if ((${#names[@]} == 0)); then
  for source in tests/fuzz/*_fuzzer.cpp; do
    name=$(basename "$source" _fuzzer.cpp)
    names+=("$name")
  done
fi

export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1:strict_string_checks=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}

passed=0
failed=0
for name in "${names[@]}"; do
  binary=$BUILD_DIR/tests/fuzz/${name}_fuzzer
  seeds=tests/fuzz/corpus/$name
  work=$BUILD_DIR/corpus/$name
  artifacts=$BUILD_DIR/artifacts/$name
  log=$BUILD_DIR/logs/$name.log
  mkdir -p "$work" "$artifacts" "$(dirname "$log")"
  if [[ ! -x $binary || ! -d $seeds ]]; then
    printf '%-18s FAIL  no harness %s or no seeds %s\n' "$name" "$binary" "$seeds"
    failed=$((failed + 1))
    continue
  fi
  dict=()
  [[ -e tests/fuzz/dict/$name.dict ]] && dict=(-dict="tests/fuzz/dict/$name.dict")
  # The first directory receives new inputs; the seeds are only read.
  "$binary" -max_total_time="$SECONDS_PER_HARNESS" -timeout=10 -rss_limit_mb=2048 -max_len=16384 "${dict[@]}" \
    -print_final_stats=1 -artifact_prefix="$artifacts/" "$work" "$seeds" >"$log" 2>&1
  rc=$?
  runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
  units=$(find "$work" -type f | wc -l)
  if ((rc == 0)); then
    printf '%-18s pass  %9s runs  %5s inputs in corpus\n' "$name" "${runs:-?}" "$units"
    passed=$((passed + 1))
  else
    crash=$(sed -n 's/.*Test unit written to //p' "$log" | head -1)
    summary=$(grep -m1 -E '^SUMMARY:|invariant failed|ERROR: libFuzzer|runtime error' "$log")
    printf '%-18s FAIL  exit %d: %s\n%18s       input %s, log %s\n' "$name" "$rc" "${summary:-see log}" "" \
      "${crash:-(none saved)}" "$log"
    failed=$((failed + 1))
  fi
done

echo "fuzz: ${SECONDS_PER_HARNESS}s per harness, total $((SECONDS - start))s; $passed passed, $failed failed"
((failed == 0))

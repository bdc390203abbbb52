#!/usr/bin/env bash
# bench/socket_programs_ab.sh [REV] [ROUNDS]: what the work tree's bpf/sockets.bpf.c costs against REV's (default
# HEAD), per request, measured in one interleaved run (bench/socket_programs_ab.cpp says how). Both objects are
# compiled here with the flags cmake/BpfSkeleton.cmake uses. Run as root from the repository root after
# `make build`; a change to the socket programs is taken when this shows it, not when it reads cheaper.
set -euo pipefail
cd "$(dirname "$0")/.."
REV=${1:-HEAD}
ROUNDS=${2:-8}
BUILD=${BUILD_DIR:-build}
case $BUILD in /*) ;; *) BUILD=$PWD/$BUILD ;; esac
[[ $(id -u) == 0 ]] || { echo "socket_programs_ab: run as root (BPF)" >&2; exit 2; }
[[ -f $BUILD/libsigdrain_lib.a ]] || { echo "socket_programs_ab: no $BUILD/libsigdrain_lib.a: make build" >&2; exit 2; }
git rev-parse --verify -q "$REV^{commit}" >/dev/null || { echo "socket_programs_ab: no revision $REV" >&2; exit 2; }

work=$(mktemp -d /tmp/sigdrain-ab.XXXXXX)
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/base"
git archive "$REV" bpf | tar -x -C "$work/base"
compile() { # SOURCE_DIR OUT
  clang -g -O2 -target bpf -D__TARGET_ARCH_x86 -Wall -Werror -Wno-unused-function \
    -I"$1/vmlinux/x86_64" -I"$1" -c "$1/sockets.bpf.c" -o "$2"
}
compile "$work/base/bpf" "$work/base.bpf.o"
compile bpf "$work/candidate.bpf.o"

cmake -S bench -B "$BUILD/bench" -DSIGDRAIN_BUILD_DIR="$BUILD" >/dev/null
cmake --build "$BUILD/bench" --target bench_socket_programs_ab -j "$(nproc)" >/dev/null
echo "socket programs: base $(git rev-parse --short "$REV") vs the work tree, $ROUNDS paired rounds"
"$BUILD/bench/bench_socket_programs_ab" "$work/base.bpf.o" "$work/candidate.bpf.o" "$ROUNDS" --json "$BUILD/bench/socket_programs_ab.json"

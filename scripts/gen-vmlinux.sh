#!/usr/bin/env bash
# Regenerates the pinned bpf/vmlinux/<arch>/vmlinux.h from a kernel's BTF.
# The build never reads the build host's BTF: CO-RE relocates field offsets at load time on the
# target kernel, so one pinned header serves every supported kernel. Regenerate only to use new types.
#   scripts/gen-vmlinux.sh [BTF_FILE]   (default /sys/kernel/btf/vmlinux)
set -euo pipefail
btf=${1:-/sys/kernel/btf/vmlinux}
arch=$(uname -m)
out="$(dirname "$0")/../bpf/vmlinux/${arch}/vmlinux.h"
mkdir -p "$(dirname "$out")"
bpftool btf dump file "$btf" format c > "$out.tmp"
mv "$out.tmp" "$out"
echo "wrote $out from $btf"

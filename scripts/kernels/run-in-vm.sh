#!/usr/bin/env bash
# Runs one command as root inside a throwaway qemu VM (TCG) booted from the given kernel.
#   scripts/kernels/run-in-vm.sh --kernel VMLINUZ [--timeout S] [--file SRC[:DEST]]... [--append KERNEL_ARGS]
#                                [--facts FILE] [--smp N] [--icount SHIFT] -- CMD ARGS...
# CMD is looked up on the host (a path or a name on PATH) and copied in at the same path; --file copies
# more files or directories (DEST defaults to SRC's absolute path). Every ELF file copied in brings its
# shared libraries and the dynamic loader (ldd). Names not found on the host run busybox applets.
# The root file system is the initramfs itself (writable, in RAM). --append adds kernel command line
# arguments, e.g. lockdown=confidentiality to mimic a locked-down host.
# The VM mounts proc, sys, devtmpfs, tracefs, debugfs, securityfs, bpffs and cgroup2, and brings up lo.
# --smp N gives the VM N CPUs (default 2). --icount SHIFT makes the guest's clock count instructions (qemu -icount:
# 2^SHIFT ns each, shift 0: 1 ns an instruction), so a task's CPU time in the guest is the instructions it ran,
# whatever the host's load; with one CPU only (with two, one CPU's clock runs while the other executes).
# --facts FILE writes what the booted kernel reports, one `key=value` a line: release, lsms (the active LSMs,
# /sys/kernel/security/lsm), lockdown (the selected mode).
# Prints CMD's output (stdout and stderr merged, as the serial console carries both) and exits with
# CMD's exit status, or:
#   124  CMD did not finish within the timeout (default 300 s, counted from qemu's start)
#   125  the VM failed: qemu error, boot failure or kernel panic (the console's tail goes to stderr)
# KEEP_VM_WORK=1 keeps the work directory (/tmp/sigdrain-vm.*: initramfs tree, console.log) for debugging.
# Example:
#   scripts/kernels/run-in-vm.sh --kernel /var/cache/sigdrain/kernels/6.1/vmlinuz \
#     --file build/bpf_skel/signals.bpf.o:/signals.bpf.o -- bpftool prog loadall /signals.bpf.o /sys/fs/bpf/s
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
source "$here/lib.sh"

readonly EXIT_TIMEOUT=124 EXIT_VM_FAILED=125

usage() {
  sed -n '2,5p' "$0" | sed 's/^# \{0,1\}//' >&2
  exit 2
}

kernel="" timeout=300 files=() extra_append="" facts_file="" smp=2 icount_args=()
while (($#)); do
  case "$1" in
    --kernel) kernel=${2:?}; shift 2 ;;
    --timeout) timeout=${2:?}; shift 2 ;;
    --file) files+=("${2:?}"); shift 2 ;;
    --append) extra_append=${2:?}; shift 2 ;;
    --facts) facts_file=${2:?}; shift 2 ;;
    --smp) smp=${2:?}; shift 2 ;;
    --icount) icount_args=(-icount "shift=${2:?},sleep=on"); shift 2 ;;
    --) shift; break ;;
    -h | --help) usage ;;
    *) usage ;;
  esac
done
(($#)) || usage
[[ -f "$kernel" ]] || die "no kernel image at '$kernel' (see fetch-kernels.sh)"
[[ "$timeout" =~ ^[0-9]+$ ]] || die "--timeout wants whole seconds, got '$timeout'"
[[ "$smp" =~ ^[1-9][0-9]*$ ]] || die "--smp wants a number of CPUs, got '$smp'"
if ((${#icount_args[@]})); then
  [[ "${icount_args[1]}" =~ ^shift=[0-9]+, ]] || die "--icount wants a shift (0-10), got '${icount_args[1]}'"
  ((smp == 1)) || die "--icount counts one CPU's instructions: use it with --smp 1"
fi
ensure_packages qemu-system-x86 busybox-static cpio

work=$(mktemp -d /tmp/sigdrain-vm.XXXXXX)
trap '[[ -n "${KEEP_VM_WORK:-}" ]] || rm -rf "$work"' EXIT
root="$work/root"
mkdir -p "$root"/{bin,sbin,usr/bin,usr/sbin,proc,sys,dev,tmp,run,etc,root}

# Busybox applets in /bin and /sbin only: copied host programs in /usr win on PATH.
cp /bin/busybox "$root/bin/busybox"
for applet in $(/bin/busybox --list); do
  [[ -e "$root/bin/$applet" ]] || ln -s busybox "$root/bin/$applet"
done
ln -s ../bin/busybox "$root/sbin/busybox"

is_elf() { [[ -f "$1" && "$(head -c4 "$1" | od -An -c | tr -d ' ')" == '177ELF' ]]; }

declare -A copied_libs=()
# Copies SRC's shared libraries (recursively: a library's own ldd) and the loader to their host paths.
copy_libs_of() {
  local lib
  while read -r lib; do
    [[ -n "$lib" && -z "${copied_libs[$lib]:-}" ]] || continue
    copied_libs[$lib]=1
    mkdir -p "$root$(dirname "$lib")"
    cp -L "$lib" "$root$lib"
    copy_libs_of "$lib"
  done < <(ldd "$1" 2>/dev/null | awk '$2 == "=>" && $3 ~ /^\// { print $3 } $1 ~ /^\// { print $1 }')
}

# Copies SRC (file or directory) to DEST inside the VM, with the libraries of every ELF file in it.
copy_in() {
  local src=$1 dest=$2 f
  [[ -e "$src" ]] || die "no such file: $src"
  [[ "$dest" == /* ]] || die "destination must be absolute: $dest"
  mkdir -p "$root$(dirname "$dest")"
  cp -aL "$src" "$root$dest"
  while IFS= read -r -d '' f; do
    if is_elf "$f"; then copy_libs_of "$f"; fi
  done < <(find -L "$src" -type f -print0)
}

for spec in "${files[@]}"; do
  src=${spec%%:*} dest=${spec#*:}
  [[ "$spec" == *:* ]] || dest=$(realpath -m "$src")
  copy_in "$src" "$dest"
done

cmd=$1
host_cmd=$([[ "$cmd" == */* ]] && realpath -m "$cmd" || command -v "$cmd" || true)
if [[ -f "$host_cmd" ]]; then
  copy_in "$host_cmd" "$host_cmd"
  set -- "$host_cmd" "${@:2}"
fi

# Single-quotes one word for the VM's sh.
quote() { printf "'%s'" "${1//\'/\'\\\'\'}"; }
cmdline=""
for word in "$@"; do cmdline+="$(quote "$word") "; done

# A fresh nonce per run so CMD's own output cannot fake the markers.
nonce=$(od -An -N6 -tx1 /dev/urandom | tr -d ' \n')
begin_marker="==== sigdrain-vm $nonce begin ===="
facts_marker="==== sigdrain-vm $nonce fact "
end_marker="==== sigdrain-vm $nonce end status="
# No ld.so.cache in the VM: the loader is told where the copied libraries are.
lib_path=$(for lib in "${!copied_libs[@]}"; do dirname "$lib"; done | sort -u | paste -sd:)

cat >"$root/init" <<EOF
#!/bin/sh
export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin HOME=/root TMPDIR=/tmp TERM=dumb
export LD_LIBRARY_PATH=$lib_path
mount -t devtmpfs devtmpfs /dev
exec </dev/null >/dev/console 2>&1
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t tracefs tracefs /sys/kernel/tracing
mount -t debugfs debugfs /sys/kernel/debug
mount -t securityfs securityfs /sys/kernel/security
mount -t bpf bpf /sys/fs/bpf
mount -t cgroup2 cgroup2 /sys/fs/cgroup
ip link set lo up
dmesg -n 1
cd /root
echo "${facts_marker}release=\$(uname -r)"
echo "${facts_marker}lsms=\$(cat /sys/kernel/security/lsm 2>/dev/null)"
echo "${facts_marker}lockdown=\$(sed -n 's/.*\[\(.*\)\].*/\1/p' /sys/kernel/security/lockdown 2>/dev/null)"
echo '$begin_marker'
$cmdline
echo "$end_marker\$?"
# Let the UART drain first: the kernel's "Power Off" message would overtake output still queued.
usleep 300000
echo o >/proc/sysrq-trigger
sleep 10
EOF
chmod +x "$root/init"

# Uncompressed: under TCG the kernel's gunzip costs more than reading the larger image.
(cd "$root" && find . -print0 | cpio --null -o -H newc --quiet) >"$work/initramfs.cpio"

console="$work/console.log"
set +e
timeout -k 5 "$timeout" qemu-system-x86_64 -accel tcg -cpu max -m 1024 -smp "$smp" "${icount_args[@]}" -nographic -no-reboot -nic none \
  -kernel "$kernel" -initrd "$work/initramfs.cpio" \
  -append "console=ttyS0 panic=-1 quiet loglevel=3 rdinit=/init $extra_append" </dev/null 2>"$work/qemu.err" |
  tee "$console" | tr -d '\r' | awk -v begin="$begin_marker" -v end="$end_marker" '
    # The firmware clears the screen with escapes on the marker line; output lacking a final newline
    # leaves the end marker mid-line.
    printing && (at = index($0, end)) { if (at > 1) print substr($0, 1, at - 1); printing = 0 }
    printing { print; fflush() }
    index($0, begin) { printing = 1 }'
qemu_status=${PIPESTATUS[0]}
set -e

console_tail() {
  sed 's/^/  qemu: /' "$work/qemu.err" >&2
  tr -d '\r' <"$console" | tail -n 15 | sed 's/^/  console: /' >&2
}
if [[ -n "$facts_file" ]]; then
  tr -d '\r' <"$console" | grep -F "$facts_marker" | sed "s/.*$facts_marker//" >"$facts_file" || true
fi
status_line=$(tr -d '\r' <"$console" | grep -F "$end_marker" | tail -n1 || true)
if [[ -n "$status_line" ]]; then
  exit "${status_line##*"$end_marker"}"
fi
if ((qemu_status == 124 || qemu_status == 137)); then
  if grep -qF "$begin_marker" "$console"; then
    echo "run-in-vm: timeout: '$cmd' still running after ${timeout}s on $kernel" >&2
  else
    echo "run-in-vm: timeout: the VM did not boot within ${timeout}s ($kernel)" >&2
    console_tail
  fi
  exit $EXIT_TIMEOUT
fi
echo "run-in-vm: the VM stopped (qemu exit $qemu_status) before '$cmd' reported its status ($kernel)" >&2
console_tail
exit $EXIT_VM_FAILED

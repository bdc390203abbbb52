#!/usr/bin/env bash
# Downloads Debian's cloud kernels for the kernel matrix and keeps only what a VM boot needs.
#   scripts/kernels/fetch-kernels.sh [CACHE_DIR] [VERSION...]
#     CACHE_DIR  default /var/cache/sigdrain/kernels
#     VERSION    5.10 (bullseye), 6.1 (bookworm), 6.12 (trixie); default all three
# Result: CACHE_DIR/<VERSION>/{vmlinuz,config,package}. The image carries the kernel's BTF
# (/sys/kernel/btf/vmlinux in the VM); modules are dropped because everything sigdrain needs (BPF,
# tracepoints, TCP, bpffs, cgroup2) is built in on these kernels.
# Idempotent: a cached kernel is not fetched again (delete its directory to refresh it).
# The suites' package lists live in a temporary apt state directory that is removed on exit, so the
# machine's own apt sources and lists stay on bookworm. Run as root on a fresh machine.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
source "$here/lib.sh"

cache=${1:-$KERNELS_DEFAULT_CACHE}
shift $(($# > 0 ? 1 : 0))
versions=("$@")
((${#versions[@]})) || read -r -a versions <<<"$KERNELS_DEFAULT_VERSIONS"

# The Debian mirror this machine already uses (deb822 or one-line sources), else deb.debian.org.
debian_mirror() {
  local uri
  uri=$(cat /etc/apt/sources.list /etc/apt/sources.list.d/*.list /etc/apt/sources.list.d/*.sources 2>/dev/null |
    grep -v '^[[:space:]]*#' | grep -oE '(https?|file)://[^ ]+/debian/?( |$)' | head -n1 | tr -d ' ' || true)
  echo "${uri:-http://deb.debian.org/debian}"
}

todo=()
for v in "${versions[@]}"; do
  suite_of_kernel "$v" >/dev/null || die "unknown kernel version '$v' (known: $KERNELS_DEFAULT_VERSIONS)"
  [[ -s "$cache/$v/vmlinuz" ]] || todo+=("$v")
done
ensure_packages qemu-system-x86 busybox-static cpio
((${#todo[@]})) || exit 0
((EUID == 0)) || die "need root to download kernels into $cache"

mirror=${DEBIAN_MIRROR:-$(debian_mirror)}
keyring=/usr/share/keyrings/debian-archive-keyring.gpg
work=$(mktemp -d /tmp/sigdrain-kernels.XXXXXX)
trap 'rm -rf "$work"' EXIT
mkdir -p "$cache"

for v in "${todo[@]}"; do
  suite=$(suite_of_kernel "$v")
  state="$work/apt-$suite"
  mkdir -p "$state/lists/partial" "$state/cache/archives/partial" "$state/empty"
  echo "deb [signed-by=$keyring] $mirror $suite main" >"$state/sources.list"
  # Only this suite: own source list, own lists and caches; the host's sources.list.d is ignored.
  # The sandbox user _apt cannot write into the private temp dir; the download is only read by dpkg-deb.
  apt_opts=(-o "Dir::Etc::sourcelist=$state/sources.list" -o "Dir::Etc::sourceparts=$state/empty"
    -o "Dir::State::lists=$state/lists" -o "Dir::Cache=$state/cache" -o "APT::Get::List-Cleanup=0"
    -o "Dir::Etc::preferencesparts=$state/empty" -o "Dir::Etc::preferences=$state/none"
    -o "APT::Sandbox::User=root")
  echo "fetch-kernels: $v: reading $suite from $mirror" >&2
  apt-get "${apt_opts[@]}" update -qq
  image=$(apt-cache "${apt_opts[@]}" depends linux-image-cloud-amd64 |
    sed -nE 's/^ *Depends: (linux-image-[0-9][^ ]*-cloud-amd64)$/\1/p' | head -n1)
  [[ -n "$image" ]] || die "$suite: cannot resolve linux-image-cloud-amd64 to an image package"
  (cd "$work" && apt-get "${apt_opts[@]}" download -qq "$image")
  deb=$(ls "$work"/"${image}"_*.deb)
  dpkg-deb -x "$deb" "$work/root-$v"
  out="$cache/$v.tmp"
  rm -rf "$out" && mkdir -p "$out"
  cp "$work/root-$v"/boot/vmlinuz-* "$out/vmlinuz"
  cp "$work/root-$v"/boot/config-* "$out/config"
  dpkg-deb -f "$deb" Package Version >"$out/package"
  rm -rf "${cache:?}/$v" && mv "$out" "$cache/$v"
  rm -rf "$work/root-$v" "$deb"
  echo "fetch-kernels: $v: $(tr '\n' ' ' <"$cache/$v/package")-> $cache/$v/vmlinuz" >&2
done

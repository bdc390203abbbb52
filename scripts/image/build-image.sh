#!/usr/bin/env bash
# Builds the sigdrain container image without any registry: a Debian rootfs made by debootstrap (minbase of this
# host's suite plus only the runtime libraries the binary needs), the binary and the default config on top,
# imported with `podman import` as localhost/sigdrain:<version> and localhost/sigdrain:latest.
# (The Dockerfile builds the same image where a registry is at hand; both install scripts/image/runtime-packages.)
#
#   scripts/image/build-image.sh [BINARY]        (default: $SIGDRAIN or build/sigdrain)
#
# The debootstrapped rootfs is cached as a tarball under $SIGDRAIN_IMAGE_CACHE (/var/cache/sigdrain), keyed by
# suite, architecture, package list and this script, so a rerun only appends the binary and imports (about 5 s;
# the debootstrap takes 40-100 s). An image whose binary and config are unchanged is not imported again. To pick up
# Debian's updates, remove the cached rootfs-*.tar. Needs root (debootstrap, podman).
set -euo pipefail

REPO=$(cd "$(dirname "$0")/../.." && pwd)
BINARY=${1:-${SIGDRAIN:-$REPO/build/sigdrain}}
CACHE_DIR=${SIGDRAIN_IMAGE_CACHE:-/var/cache/sigdrain}
MIRROR=${SIGDRAIN_IMAGE_MIRROR:-http://deb.debian.org/debian}
PACKAGE_LIST=$REPO/scripts/image/runtime-packages
CONFIG=$REPO/deploy/daemon.conf
REPOSITORY=localhost/sigdrain
CONTENT_LABEL=io.sigdrain.image.content-sha256

log() { echo "build-image: $*" >&2; }
die() { echo "build-image: error: $*" >&2; exit 2; }

[[ $(id -u) -eq 0 ]] || die "run as root (debootstrap and podman import need it)"
[[ -x $BINARY ]] || die "no sigdrain binary at $BINARY: run \`make build\` first"
# shellcheck source=scripts/lib/packages.sh
source "$REPO/scripts/lib/packages.sh"
ensure_packages debootstrap podman binutils || die "cannot install debootstrap, podman, binutils"

# --- which Debian packages hold the libraries the binary links (DT_NEEDED) ----------------------------------------
# dpkg knows a library by the path its package ships, /lib/... or /usr/lib/... (usr-merge): try both spellings.
package_of() {
  local path=$1 candidate
  for candidate in "$path" "$(readlink -f "$path")" "${path#/usr}" "/usr${path#/usr}"; do
    dpkg -S "$candidate" 2>/dev/null | sed -n '1s/:.*//p' | grep . && return 0
  done
  return 1
}
needed_packages() {
  local soname path
  while read -r soname; do
    path=$(ldd "$BINARY" | awk -v s="$soname" '$1 == s && $3 ~ /^\// { print $3; exit }')
    [[ -n $path ]] || die "ldd does not resolve $soname (needed by $BINARY)"
    package_of "$path" || die "no Debian package ships $path (needed by $BINARY)"
  done < <(objdump -p "$BINARY" | awk '$1 == "NEEDED" { print $2 }')
}
listed=$(sed 's/#.*//' "$PACKAGE_LIST" | tr -s ' \t' '\n' | grep . | sort -u)
needed=$(needed_packages | sort -u)
if [[ $needed != "$listed" ]]; then
  die "$BINARY needs the packages [$(paste -sd' ' <<<"$needed")] but $PACKAGE_LIST lists [$(paste -sd' ' <<<"$listed")]: update the list (the Dockerfile installs it too)"
fi

# --- the image's content and whether it is already there -----------------------------------------------------------
SUITE=$(. /etc/os-release && echo "${VERSION_CODENAME:-}")
[[ -n $SUITE ]] || die "no VERSION_CODENAME in /etc/os-release: which Debian suite is this?"
ARCH=$(dpkg --print-architecture)
VERSION=$("$BINARY" version | awk '{ print $2; exit }')
[[ $VERSION =~ ^[0-9A-Za-z._-]+$ ]] || die "\`$BINARY version\` printed no usable version: $VERSION"
TAG=$REPOSITORY:$VERSION

WORK=$(mktemp -d /tmp/sigdrain-image.XXXXXX)
trap 'rm -rf "$WORK"' EXIT
mkdir -p "$WORK/layer/usr/bin" "$WORK/layer/etc/sigdrain"
# Debug info is for the build tree; the image gets the code only.
objcopy --strip-debug "$BINARY" "$WORK/layer/usr/bin/sigdrain"
install -m 0644 "$CONFIG" "$WORK/layer/etc/sigdrain/daemon.conf"
# The rootfs depends on the suite, the packages and this script's recipe.
rootfs_key=$( (printf '%s %s %s\n%s\n' "$SUITE" "$ARCH" "$MIRROR" "$listed"; cat "$0") | sha256sum | cut -c1-16)
content_sha=$( (echo "$rootfs_key"; sha256sum "$WORK/layer/usr/bin/sigdrain" "$WORK/layer/etc/sigdrain/daemon.conf" |
  cut -d' ' -f1) | sha256sum | cut -d' ' -f1)
if [[ $(podman image inspect --format "{{index .Config.Labels \"$CONTENT_LABEL\"}}" "$TAG" 2>/dev/null) == "$content_sha" ]]; then
  podman tag "$TAG" "$REPOSITORY:latest"
  log "$TAG is up to date"
  echo "$TAG"
  exit 0
fi

# --- the Debian rootfs, cached --------------------------------------------------------------------------------------
BASE=$CACHE_DIR/rootfs-$SUITE-$ARCH-$rootfs_key.tar
if [[ ! -s $BASE ]]; then
  log "debootstrap --variant=minbase $SUITE with $(paste -sd' ' <<<"$listed") (cached as $BASE)"
  mkdir -p "$CACHE_DIR"
  debootstrap --variant=minbase --arch="$ARCH" --include="$(paste -sd, <<<"$listed")" \
    "$SUITE" "$WORK/rootfs" "$MIRROR" >"$WORK/debootstrap.log" 2>&1 ||
    die "debootstrap failed (log: $(tail -5 "$WORK/debootstrap.log"))"
  # As Debian's -slim images: no package cache or index, translations, man or info pages; the licences stay.
  rm -rf "$WORK/rootfs/var/cache/apt/"*.bin "$WORK/rootfs/var/cache/apt/archives/"*.deb \
    "$WORK/rootfs/var/lib/apt/lists/"* "$WORK/rootfs/usr/share/locale/"* "$WORK/rootfs/usr/share/man/"* \
    "$WORK/rootfs/usr/share/info/"*
  find "$WORK/rootfs/usr/share/doc" -mindepth 2 ! -type d ! -name copyright -delete
  tar --numeric-owner --xattrs -C "$WORK/rootfs" -cf "$BASE.tmp" .
  mv "$BASE.tmp" "$BASE"
  # Rootfs tarballs of other package lists are stale now.
  find "$CACHE_DIR" -maxdepth 1 -name "rootfs-$SUITE-$ARCH-*.tar" ! -path "$BASE" -delete
fi

# --- rootfs + layer -> image ----------------------------------------------------------------------------------------
cp "$BASE" "$WORK/image.tar"
tar --numeric-owner --owner=0 --group=0 -C "$WORK/layer" -rf "$WORK/image.tar" ./etc/sigdrain ./usr/bin/sigdrain
old_id=$(podman image inspect --format '{{.Id}}' "$TAG" 2>/dev/null || true)
podman import --quiet \
  --change 'ENTRYPOINT ["/usr/bin/sigdrain"]' \
  --change 'CMD ["daemon", "--config", "/etc/sigdrain/daemon.conf"]' \
  --change 'STOPSIGNAL SIGTERM' \
  --change "LABEL org.opencontainers.image.title=sigdrain" \
  --change "LABEL org.opencontainers.image.version=$VERSION" \
  --change "LABEL $CONTENT_LABEL=$content_sha" \
  --message "sigdrain $VERSION on Debian $SUITE" \
  "$WORK/image.tar" "$TAG" >/dev/null
podman tag "$TAG" "$REPOSITORY:latest"
# The image this one replaced has no tag left: drop it rather than pile up a rootfs per build.
if [[ -n $old_id && $old_id != "$(podman image inspect --format '{{.Id}}' "$TAG")" ]]; then
  podman rmi "$old_id" >/dev/null 2>&1 || true
fi
log "built $TAG ($(podman image inspect --format '{{.Size}}' "$TAG" | numfmt --to=iec))"
echo "$TAG"

#!/usr/bin/env bash
# Prepares a fresh Debian 12 machine for the end-to-end tests (tests/e2e): podman + runc, the server apps the
# scenarios run, a containers.conf that runc can honour, and a rootfs skeleton (no image can be pulled; /usr is
# bind-mounted read-only into every container instead). Idempotent: a second run only checks. Run as root.
#
#   scripts/podman-setup.sh [ROOTFS_DIR]      (default: $SIGDRAIN_E2E_ROOTFS or /var/lib/sigdrain-e2e/rootfs)
set -euo pipefail

ROOTFS=${1:-${SIGDRAIN_E2E_ROOTFS:-/var/lib/sigdrain-e2e/rootfs}}
CONTAINERS_CONF=/etc/containers/containers.conf

log() { echo "podman-setup: $*"; }
die() { echo "podman-setup: error: $*" >&2; exit 1; }

[[ $(id -u) -eq 0 ]] || die "must run as root"
# shellcheck source=scripts/lib/packages.sh
source "$(dirname "$0")/lib/packages.sh"

# --- packages ---------------------------------------------------------------------------------------------------
# containernetworking-plugins + iptables: podman 4.3 on Debian 12 uses the CNI backend (bridge, portmap) for
# `-p 127.0.0.1:PORT:PORT`; conmon is the container monitor. curl is used by tests to probe endpoints;
# python3-prometheus-client cross-checks the daemon's /metrics (tests/e2e/prom_parse.py).
PKGS=(podman runc conmon containernetworking-plugins iptables python3 python3-flask gunicorn uwsgi
  uwsgi-plugin-python3 supervisor nginx-light curl python3-prometheus-client)
ensure_packages "${PKGS[@]}" || die "cannot install ${PKGS[*]}"

# --- containers.conf --------------------------------------------------------------------------------------------
# runc cannot raise RLIMIT_NOFILE above the hard limit here (no CAP_SYS_RESOURCE), so ask for limits it can set.
# Only add the setting when absent; keep whatever else the file holds.
ULIMITS_LINE='default_ulimits = ["nofile=1024:1024", "nproc=1024:1024"]'
mkdir -p "$(dirname "$CONTAINERS_CONF")"
touch "$CONTAINERS_CONF"
if grep -qE '^[[:space:]]*default_ulimits[[:space:]]*=' "$CONTAINERS_CONF"; then
  log "$CONTAINERS_CONF already sets default_ulimits; left as is"
elif grep -qE '^[[:space:]]*\[containers\][[:space:]]*$' "$CONTAINERS_CONF"; then
  log "adding default_ulimits under the existing [containers] table"
  tmp=$(mktemp)
  awk -v line="$ULIMITS_LINE" '{ print } /^[[:space:]]*\[containers\][[:space:]]*$/ && !done { print line; done = 1 }' \
    "$CONTAINERS_CONF" >"$tmp"
  cat "$tmp" >"$CONTAINERS_CONF"
  rm -f "$tmp"
else
  log "adding a [containers] table with default_ulimits"
  # Keep a blank line between earlier content and the new table.
  if [[ -s $CONTAINERS_CONF ]]; then printf '\n' >>"$CONTAINERS_CONF"; fi
  printf '[containers]\n%s\n' "$ULIMITS_LINE" >>"$CONTAINERS_CONF"
fi

# --- rootfs skeleton --------------------------------------------------------------------------------------------
mkdir -p "$ROOTFS"
for d in usr etc proc sys dev tmp run var var/tmp; do mkdir -p "$ROOTFS/$d"; done
chmod 1777 "$ROOTFS/tmp" "$ROOTFS/var/tmp"
for l in bin lib lib64 sbin; do
  if [[ ! -L $ROOTFS/$l ]]; then
    if [[ -e $ROOTFS/$l ]]; then die "$ROOTFS/$l exists and is not a symlink"; fi
    ln -s "usr/$l" "$ROOTFS/$l"
  fi
done
# /etc/hosts and resolv.conf are replaced by podman's bind mounts at run time; copies keep the rootfs usable alone.
for f in passwd group hosts resolv.conf; do
  if [[ -e /etc/$f ]]; then cp -fL "/etc/$f" "$ROOTFS/etc/$f"; fi
done
# Debian's alternatives (/usr/bin/uwsgi, uwsgi's python3_plugin.so, ...) are symlinks through /etc/alternatives.
rm -rf "$ROOTFS/etc/alternatives"
cp -a /etc/alternatives "$ROOTFS/etc/alternatives"
log "rootfs skeleton at $ROOTFS"

# --- verification -----------------------------------------------------------------------------------------------
name="sde2e-setupcheck-$$"
podman rm -f -t 0 "$name" >/dev/null 2>&1 || true
if ! out=$(timeout 60 podman --runtime runc run --rm --name "$name" -v /usr:/usr:ro --rootfs "$ROOTFS" \
  /usr/bin/true 2>&1); then
  podman rm -f -t 0 "$name" >/dev/null 2>&1 || true
  die "test container failed: $out"
fi
log "test container ran"

# Bridge networking with a published loopback port: the scenarios depend on it, so check that a request gets through.
port=18999
podman rm -f -t 0 "$name" >/dev/null 2>&1 || true
if ! out=$(timeout 60 podman --runtime runc run -d --name "$name" -v /usr:/usr:ro -p "127.0.0.1:$port:$port" \
  --rootfs "$ROOTFS" /usr/bin/python3 -m http.server --bind 0.0.0.0 --directory /etc "$port" 2>&1); then
  podman rm -f -t 0 "$name" >/dev/null 2>&1 || true
  die "test container with a published port failed to start: $out"
fi
ok=0
for _ in $(seq 50); do
  if curl -fs -m 2 -o /dev/null "http://127.0.0.1:$port/hosts"; then ok=1; break; fi
  sleep 0.2
done
podman rm -f -t 0 "$name" >/dev/null 2>&1 || true
((ok)) || die "no HTTP answer through 127.0.0.1:$port from a test container (bridge/portmap networking broken?)"
log "published port reachable; ready"

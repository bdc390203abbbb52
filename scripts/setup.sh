#!/usr/bin/env bash
# Installs everything sigdrain needs to build and test on a fresh Debian 12 machine.
# Idempotent: a second run only checks. Run as root.
set -euo pipefail

BUILD_PKGS=(build-essential cmake make pkg-config clang llvm libbpf-dev bpftool libelf-dev zlib1g-dev
  libcli11-dev libfmt-dev libgtest-dev libgmock-dev nlohmann-json3-dev)
E2E_PKGS=(podman runc python3 python3-flask gunicorn uwsgi uwsgi-plugin-python3 supervisor nginx-light curl
  iproute2 procps psmisc)

missing=()
for p in "${BUILD_PKGS[@]}" "${E2E_PKGS[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  echo "setup: installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

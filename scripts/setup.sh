#!/usr/bin/env bash
# Installs what sigdrain needs to build and run its unit and BPF tests on a fresh Debian 12 machine.
# (scripts/podman-setup.sh adds what the end-to-end tests need.) Idempotent: a second run only checks. Run as root.
set -euo pipefail
# shellcheck source=scripts/lib/packages.sh
source "$(dirname "$0")/lib/packages.sh"

ensure_packages build-essential cmake make pkg-config clang llvm libbpf-dev bpftool libelf-dev zlib1g-dev \
  libcli11-dev libfmt-dev libgtest-dev libgmock-dev nlohmann-json3-dev libcpp-httplib-dev
# libbpf-tools: sigsnoop, the independent oracle tests/e2e/oracle_sigsnoop.sh compares `sigdrain trace` with.
ensure_packages libbpf-tools

# The runtime matrix (tests/e2e_py, tier e2e-runtimes): Docker's engine and containerd as the kubelet drives it,
# the Go and JVM apps (built and run at test time) and pytest. The tier starts containerd and dockerd itself when
# they are not running (no systemd here) and stops what it started.
ensure_packages docker.io containerd golang-go openjdk-17-jdk-headless python3-pytest

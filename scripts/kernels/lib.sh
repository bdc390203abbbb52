# shellcheck shell=bash disable=SC2034
# Shared by the kernel-matrix scripts; sourced, not run.

KERNELS_DEFAULT_CACHE=/var/cache/sigdrain/kernels
KERNELS_DEFAULT_VERSIONS="5.10 6.1 6.12"

die() {
  echo "$(basename "$0"): $*" >&2
  exit 1
}

# The Debian suite whose linux-image-cloud-amd64 is the given kernel series.
suite_of_kernel() {
  case "$1" in
    5.10) echo bullseye ;;
    6.1) echo bookworm ;;
    6.12) echo trixie ;;
    *) return 1 ;;
  esac
}

# Installs the Debian packages that are missing. Needs root the first time only.
# shellcheck source=scripts/lib/packages.sh
source "$(dirname "${BASH_SOURCE[0]}")/../lib/packages.sh"

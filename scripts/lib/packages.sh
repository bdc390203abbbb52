# shellcheck shell=bash
# ensure_packages PKG...: installs the Debian packages that are not installed yet (apt-get update first, once per
# call, only when something is missing). Needs root when it has something to install. Source this file.
ensure_packages() {
  local missing=() p
  for p in "$@"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
  ((${#missing[@]})) || return 0
  if ((EUID != 0)); then
    echo "$(basename "$0"): need root to install ${missing[*]}" >&2
    return 1
  fi
  echo "$(basename "$0"): installing ${missing[*]}" >&2
  DEBIAN_FRONTEND=noninteractive apt-get update -qq &&
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

#!/usr/bin/env bash
# deps.sh — install what renewd needs to build, test and run its lab
# (Debian 12 packages only). Idempotent: installs only what is missing.
set -euo pipefail
pkgs=(build-essential cmake pkg-config git
      libssl-dev libuv1-dev libcurl4-openssl-dev libjansson-dev libssh2-1-dev
      libsqlite3-dev sqlite3 libpq-dev postgresql check libsubunit-dev valgrind
      openssh-server openssh-client scep nginx-light sudo acl iproute2 openssl
      procps psmisc curl tcpdump jq
      pebble python3-aiosmtpd man-db
      clang libclang-rt-14-dev
      chromium prometheus)
pkgs+=(nftables) # tests/e2e/faults_link.sh: a lab host's link taken down
missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
# Node.js + npm run the test tools (tree-sitter-powershell, ajv). Some images
# ship them outside Debian's packages (and Debian's npm conflicts with those):
# only install Debian's when there is no npm at all.
command -v npm >/dev/null 2>&1 || missing+=(nodejs npm)
if ((${#missing[@]})); then
  if [ "$(id -u)" != 0 ]; then
    echo "deps: missing packages: ${missing[*]}; run this as root (apt-get install)" >&2
    exit 2
  fi
  echo "deps: installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

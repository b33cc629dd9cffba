#!/usr/bin/env bash
# contrib/bench/deps.sh — what contrib/bench/compare needs besides
# contrib/deps.sh: the tools renewd is compared with and the plot (Debian 12
# packages only; for the benchmark, not for building or testing renewd).
# Idempotent: installs only what is missing.
set -euo pipefail
pkgs=(ansible-core pssh gnuplot-nox time bc jq)
missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
((${#missing[@]})) || exit 0
if [ "$(id -u)" != 0 ]; then
  echo "bench deps: missing packages: ${missing[*]}; run this as root (apt-get install)" >&2
  exit 2
fi
echo "bench deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null

#!/usr/bin/env bash
# fleet.sh — renewd end to end against a lab fleet: how fast `renewd plan`
# (every probe of every step, real SSH, real TLS handshakes, GetCACaps /
# GetCACert) and `renewd run` (real renewals through the lab's scepserver)
# go, and what they cost the orchestrator. Figures go to docs/BENCHMARKS.md.
#
# usage: contrib/bench/fleet.sh [--hosts N] [--bin PATH/TO/renewd] [--key rsa|ec] [--keep]
# --key ec: the new keys are ECDSA P-256 (policy.key) instead of RSA-2048.
# Build renewd without sanitizers first:
#   cmake -S . -B build-rel -DCMAKE_BUILD_TYPE=Release -DRENEWD_TESTS=OFF && cmake --build build-rel -j
# Needs root (the lab does). Uses its own lab (RENEWD_LAB_DIR / RENEWD_LAB_NETNS).
set -euo pipefail
top=$(cd "$(dirname "$0")/../.." && pwd)
n=50 bin=$top/build-rel/renewd keep=0 key=rsa
while (($#)); do
	case $1 in
	--hosts) n=$2; shift 2 ;;
	--bin) bin=$2; shift 2 ;;
	--key) key=$2; shift 2 ;;
	--keep) keep=1; shift ;;
	*) echo "usage: $0 [--hosts N] [--bin renewd] [--key rsa|ec] [--keep]" >&2; exit 2 ;;
	esac
done
export RENEWD_LAB_DIR=${RENEWD_LAB_DIR:-/var/lib/renewd-lab-fleet}
export RENEWD_LAB_NETNS=${RENEWD_LAB_NETNS:-renewd-lab-fleet}
export RENEWD_PLUGINS=${RENEWD_PLUGINS:-$(dirname "$bin")/plugins}
lab=$top/contrib/lab/lab
[ -x "$bin" ] || { echo "fleet: no renewd at $bin (--bin)" >&2; exit 2; }
command -v /usr/bin/time >/dev/null || apt-get install -y -qq time >/dev/null
[ "$keep" = 1 ] || trap '"$lab" down --purge >/dev/null 2>&1' EXIT
t0=$(date +%s.%N)
"$lab" up --hosts "$n" --tls "$n" >/dev/null
t1=$(date +%s.%N)
# shellcheck disable=SC1091
. "$RENEWD_LAB_DIR/lab.env"
work=$(mktemp -d)
keyspec='{"type": "rsa", "bits": 2048}'
[ "$key" = ec ] && keyspec='{"type": "ec", "curve": "P-256"}'
sed "s|/var/lib/renewd-lab/|$RENEWD_LAB_DIR/|g; s|\"max_parallel\": 16|\"max_parallel\": 32|; s|\"key\": {\"type\": \"rsa\", \"bits\": 2048}|\"key\": $keyspec|" \
	"$top/runbooks/lab-posix-scep.json" >"$work/rb.json"
printf 'fleet: %d hosts with TLS services, %s keys (lab up: %.1f s), %s cores\n' "$n" "$key" "$(echo "$t1 - $t0" | bc)" "$(nproc)"

measure() { # measure LABEL ARGS...: one renewd run under /usr/bin/time
	local label=$1 rc=0
	shift
	"$lab" exec -- /usr/bin/time -f '%e %U %S %M' -o "$work/time" "$bin" "$@" \
		--journal "$work/journal.db" >"$work/$label.out" 2>"$work/$label.err" || rc=$?
	read -r wall usr sys rss < <(tail -n 1 "$work/time")
	local cpu_ms
	cpu_ms=$(echo "($usr + $sys) * 1000 / $n" | bc -l)
	printf '%-8s exit %-2d %6.2f s wall  %6.1f hosts/s  %6.2f ms CPU/host  max RSS %6.1f MB  (%s)\n' \
		"$label" "$rc" "$wall" "$(echo "$n / $wall" | bc -l)" "$cpu_ms" "$(echo "$rss / 1024" | bc -l)" \
		"$(tail -n 1 "$work/$label.out")"
}
measure plan plan "$work/rb.json"
measure run run "$work/rb.json"
measure again run "$work/rb.json"
rm -rf "$work"

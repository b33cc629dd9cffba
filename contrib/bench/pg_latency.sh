#!/usr/bin/env bash
# pg_latency.sh — what a far PostgreSQL journal costs a fleet renewal: one
# `renewd run` of --hosts due lab hosts with its journal on SQLite (the
# baseline), on a local PostgreSQL server, and on the same server through
# contrib/bench/pgdelay.py, which holds every message --delay ms in each
# direction (a round trip 2 x delay longer: a database across a WAN). The
# journals run alternately (A B C A B C ...) so the ratios hold while the
# shared machine's speed drifts. With --before BIN, the same rounds for an
# older renewd too (e.g. one built before the journal calls went off the
# loop), its ratios against its own SQLite baseline.
#
# Each round makes every lab certificate due and starts from an empty
# journal. The runbook is the shipped lab one (SCEP, every follow-up) with
# max_parallel --parallel and no waves. Prints, per binary and journal, the
# walls, their median, and the ratio to SQLite; a round that did not renew
# every host counts as failed (the reason on stderr).
#
# usage: contrib/bench/pg_latency.sh [--hosts N] [--rounds R] [--delay MS]
#                                    [--parallel P] [--bin renewd] [--before renewd] [--keep]
# Needs root (the lab does), python3 and PostgreSQL's server
# (contrib/tests-deps.sh); a release build:
#   cmake -S . -B build-rel -DCMAKE_BUILD_TYPE=Release -DRENEWD_TESTS=OFF && cmake --build build-rel -j
set -euo pipefail
top=$(cd "$(dirname "$0")/../.." && pwd)
n=20 rounds=2 delay=50 parallel=16 bin=$top/build-rel/renewd before='' keep=0
while (($#)); do
	case $1 in
	--hosts) n=$2; shift 2 ;;
	--rounds) rounds=$2; shift 2 ;;
	--delay) delay=$2; shift 2 ;;
	--parallel) parallel=$2; shift 2 ;;
	--bin) bin=$2; shift 2 ;;
	--before) before=$2; shift 2 ;;
	--keep) keep=1; shift ;;
	-h | --help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
	*) echo "usage: $0 [--hosts N] [--rounds R] [--delay MS] [--parallel P] [--bin renewd] [--before renewd] [--keep]" >&2; exit 2 ;;
	esac
done
export RENEWD_LAB_DIR=${RENEWD_LAB_DIR:-/var/lib/renewd-lab-pglat}
export RENEWD_LAB_NETNS=${RENEWD_LAB_NETNS:-renewd-lab-pglat}
for b in "$bin" $before; do [ -x "$b" ] || { echo "pg_latency: no renewd at $b" >&2; exit 2; }; done
[[ $(id -u) == 0 ]] || { echo "pg_latency: needs root (the lab does)" >&2; exit 2; }
# shellcheck source=contrib/bench/pglab.sh
. "$top/contrib/bench/pglab.sh"
proxy_pid=
stop_proxy() { [ -z "$proxy_pid" ] || kill "$proxy_pid" 2>/dev/null || true; }
pglab_on_exit stop_proxy
pglab_up "$n"
mkdir -m 0700 "$work/far"
python3 "$top/contrib/bench/pgdelay.py" "$work/far" "$pgdir/sock" "$delay" 2>"$work/proxy.log" &
proxy_pid=$!
for _ in $(seq 1 50); do [ -S "$work/far/.s.PGSQL.5432" ] && break; sleep 0.1; done
near=$RD_PG_URI
far=${RD_PG_URI/host=$pgdir\/sock/host=$work/far}
sed -e "s|/var/lib/renewd-lab/|$RENEWD_LAB_DIR/|g" \
	-e "s|\"schedule\": {[^}]*}|\"schedule\": {\"scan_interval\": \"1h\", \"jitter\": \"0s\", \"max_parallel\": $parallel}|" \
	"$top/runbooks/lab-posix-scep.json" >"$work/rb.json"
"$bin" validate "$work/rb.json" >/dev/null

# one round: BIN JOURNAL(sqlite|near|far) -> its wall time in seconds
round() {
	local b=$1 kind=$2 uri t0 t1 rc=0 h
	pglab_due "$n"
	case $kind in
	sqlite) rm -f "$work/j.db"*; uri=$work/j.db ;;
	near) uri=$near ;;
	far) uri=$far ;;
	esac
	[ "$kind" = sqlite ] || pg_sql "$pgdir" "drop schema public cascade; create schema public" >/dev/null
	t0=$(date +%s.%N)
	"$lab" exec -- "$b" run "$work/rb.json" --journal "$uri" >"$work/run.out" 2>"$work/run.err" || rc=$?
	t1=$(date +%s.%N)
	if [ "$rc" != 10 ] || ! grep -q "$n renewed, 0 failed" "$work/run.out"; then
		# counted as failed, and why (its headline, its first warning)
		echo "pg_latency: $b on $kind: exit $rc: $(tail -n 1 "$work/run.out")" >&2
		grep -m 1 'warning' "$work/run.err" >&2 || true
		echo fail
		return
	fi
	awk -v a="$t0" -v b="$t1" 'BEGIN {print b - a}'
}

declare -A walls
bins=("$bin")
[ -z "$before" ] || bins+=("$before")
for r in $(seq 1 "$rounds"); do
	for b in "${bins[@]}"; do
		for kind in sqlite near far; do
			w=$(round "$b" "$kind")
			walls[$b/$kind]="${walls[$b/$kind]:-} $w"
			printf 'round %d, %s, %s: %s\n' "$r" "$b" "$kind" "$w"
		done
	done
done
echo
echo "$n due hosts, max_parallel $parallel, $rounds rounds, far = $delay ms each way ($(date -u +%F), $(nproc) cores)"
echo "| renewd | journal | walls (s) | median | vs SQLite |"
echo "|---|---|---|---|---|"
for b in "${bins[@]}"; do
	base=$(echo "${walls[$b/sqlite]}" | median)
	for kind in sqlite near far; do
		if [[ ${walls[$b/$kind]} == *fail* ]]; then # a failed round: no median
			printf '| %s | %s | %s | failed | |\n' "$b" "$kind" "$(xargs <<<"${walls[$b/$kind]}")"
			continue
		fi
		m=$(echo "${walls[$b/$kind]}" | median)
		printf '| %s | %s | %s | %.1f s | %.2f× |\n' "$b" "$kind" \
			"$(echo "${walls[$b/$kind]}" | xargs printf '%.1f ' | sed 's/ $//')" "$m" \
			"$(awk -v b="$base" -v m="$m" 'BEGIN {print m / b}')"
	done
done

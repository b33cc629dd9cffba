#!/usr/bin/env bash
# pg_instances.sh — renewal throughput of 1, 2 and 3 `renewd serve`
# instances sharing one PostgreSQL journal on the same lab: the instances
# divide the runbook's scan (docs/SCALING.md, "Divided scans"). Figures go to
# docs/BENCHMARKS.md and docs/SCALING.md.
#
# Each round makes every lab certificate due, empties the journal, starts K
# instances of one runbook (the shipped lab runbook with a reload hook that
# sleeps --hook seconds, the part of a renewal that waits on the target's
# service; max_parallel --parallel per instance) and times the wall clock
# from their start until every host's job is DONE. The sizes run alternately
# (1 2 3 1 2 3 ...) so that the ratios hold while the shared machine's speed
# drifts. Prints, per K: the walls, their median, hosts/s and the ratio to
# one instance.
#
# usage: contrib/bench/pg_instances.sh [--hosts N] [--rounds R] [--parallel P]
#                                      [--hook SECONDS] [--bin PATH/TO/renewd] [--keep]
# Needs root (the lab does) and PostgreSQL's server (contrib/tests-deps.sh);
# a release build:
#   cmake -S . -B build-rel -DCMAKE_BUILD_TYPE=Release -DRENEWD_TESTS=OFF && cmake --build build-rel -j
set -euo pipefail
top=$(cd "$(dirname "$0")/../.." && pwd)
n=24 rounds=2 parallel=4 hook=2 bin=$top/build-rel/renewd keep=0
while (($#)); do
	case $1 in
	--hosts) n=$2; shift 2 ;;
	--rounds) rounds=$2; shift 2 ;;
	--parallel) parallel=$2; shift 2 ;;
	--hook) hook=$2; shift 2 ;;
	--bin) bin=$2; shift 2 ;;
	--keep) keep=1; shift ;;
	*) echo "usage: $0 [--hosts N] [--rounds R] [--parallel P] [--hook S] [--bin renewd] [--keep]" >&2; exit 2 ;;
	esac
done
export RENEWD_LAB_DIR=${RENEWD_LAB_DIR:-/var/lib/renewd-lab-pgbench}
export RENEWD_LAB_NETNS=${RENEWD_LAB_NETNS:-renewd-lab-pgbench}
export RENEWD_PLUGINS=${RENEWD_PLUGINS:-$(dirname "$bin")/plugins}
[ -x "$bin" ] || { echo "pg_instances: no renewd at $bin (--bin)" >&2; exit 2; }
[[ $(id -u) == 0 ]] || { echo "pg_instances: needs root (the lab does)" >&2; exit 2; }
# shellcheck source=contrib/bench/pglab.sh
. "$top/contrib/bench/pglab.sh"
stop_all() { pkill -TERM -f "^$bin serve $work/rb.json" 2>/dev/null || true; }
kill_all() { pkill -KILL -f "^$bin serve $work/rb.json" 2>/dev/null || true; }
pglab_on_exit kill_all
pglab_up "$n"
cat >"$work/hook.sh" <<-HOOK
	if [ "\$1" = apply ]; then sleep $hook; fi
	true
HOOK
sed -e "s|/var/lib/renewd-lab/|$RENEWD_LAB_DIR/|g" \
	-e "s|{\"type\": \"tls.verify\"|{\"type\": \"posix.exec\", \"name\": \"reload hook\", \"params\": {\"file\": \"$work/hook.sh\"}, \"timeout\": \"60s\"}, &|" \
	-e "s|\"schedule\": {[^}]*}|\"schedule\": {\"scan_interval\": \"1h\", \"jitter\": \"0s\", \"max_parallel\": $parallel}|" \
	"$top/runbooks/lab-posix-scep.json" >"$work/rb.json"
"$bin" validate "$work/rb.json" >/dev/null

done_jobs() { pg_sql "$pgdir" "select count(*) from jobs where state = 'DONE'"; }
# one round of K instances: prints its wall time in seconds
round() {
	local k=$1 h i t0 t1
	pglab_due "$n"
	pg_sql "$pgdir" "drop schema public cascade; create schema public" >/dev/null
	t0=$(date +%s.%N)
	for i in $(seq 1 "$k"); do
		"$lab" exec -- "$bin" serve "$work/rb.json" --journal "$RD_PG_URI" >"$work/I$k.$i.out" 2>&1 &
	done
	until [ "$(done_jobs 2>/dev/null || echo 0)" = "$n" ]; do
		sleep 0.2
		if (($(date +%s) - ${t0%.*} > 1800)); then echo "pg_instances: round of $k timed out" >&2; stop_all; exit 1; fi
	done
	t1=$(date +%s.%N)
	stop_all
	while pgrep -f "^$bin serve $work/rb.json" >/dev/null; do sleep 0.2; done
	awk -v a="$t0" -v b="$t1" 'BEGIN {print b - a}'
}

declare -A walls
for r in $(seq 1 "$rounds"); do
	for k in 1 2 3; do
		w=$(round "$k")
		walls[$k]="${walls[$k]:-} $w"
		printf 'round %d, %d instance(s): %.1f s\n' "$r" "$k" "$w"
	done
done
base=$(echo "${walls[1]}" | median)
echo
echo "$n hosts, max_parallel $parallel per instance, reload hook $hook s, $rounds rounds"
echo "| instances | walls (s) | median | hosts/s | vs 1 |"
echo "|---|---|---|---|---|"
for k in 1 2 3; do
	m=$(echo "${walls[$k]}" | median)
	printf '| %d | %s | %.1f s | %.2f | %.2f× |\n' "$k" "$(echo "${walls[$k]}" | xargs printf '%.1f ' | sed 's/ $//')" \
		"$m" "$(awk -v n="$n" -v m="$m" 'BEGIN {print n / m}')" "$(awk -v b="$base" -v m="$m" 'BEGIN {print b / m}')"
done

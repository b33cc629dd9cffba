# shellcheck shell=bash disable=SC2154
# contrib/bench/pglab.sh — sourced by the PostgreSQL benchmarks
# (pg_instances.sh, pg_latency.sh): a lab of N hosts and a private
# PostgreSQL server (tests/e2e/lib/pg.sh), both gone at exit unless kept.
#
# Before sourcing: top (the repository), RENEWD_LAB_DIR / RENEWD_LAB_NETNS,
# keep (1: leave the lab and WORK). Sets lab, work, pgdir, RD_PG_URI.
# pglab_up N: the lab (purged first), its lab.env, the server.
# pglab_on_exit FN: call function FN first at exit.
# pglab_due N: every lab certificate due.
# median: the median of the numbers on stdin (blank-separated).
# shellcheck disable=SC1091
. "$top/tests/e2e/lib/pg.sh"
lab=$top/contrib/lab/lab
work=$(mktemp -d "/tmp/$(basename "$0" .sh).XXXXXX")
pgdir=$(mktemp -d "/tmp/$(basename "$0" .sh)-pg.XXXXXX")
_pglab_first=
pglab_on_exit() { _pglab_first=$1; }
_pglab_cleanup() {
	[ -z "$_pglab_first" ] || "$_pglab_first"
	pg_stop "$pgdir"
	[ "${keep:-0}" = 1 ] || { "$lab" down --purge >/dev/null 2>&1 || true; rm -rf "$work"; }
}
trap _pglab_cleanup EXIT

pglab_up() {
	"$lab" down --purge >/dev/null 2>&1 || true
	"$lab" up --hosts "$1" >"$work/up.log" 2>&1 || { cat "$work/up.log" >&2; exit 1; }
	# shellcheck disable=SC1091
	. "$RENEWD_LAB_DIR/lab.env"
	pg_start "$pgdir" >"$work/pg.log" 2>&1 || { cat "$work/pg.log" >&2; exit 1; }
}

pglab_due() {
	local h
	for h in $(printf 'h%04d ' $(seq 1 "$1")); do "$lab" cert "$h" --due </dev/null >/dev/null; done
}

median() { tr ' ' '\n' | grep . | sort -g | awk '{a[NR]=$1} END {print (NR % 2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }

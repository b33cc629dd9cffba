# tests/e2e/lib/labtest.sh — sourced by e2e tests (not a test itself): the
# prologue every lab test repeats, once.
#
#   T=mytest; . "$HERE/lib/labtest.sh"     # sets ROOT LAB RENEWD, the counters
#   lab_own DIR NETNS HOSTS                 # a lab of its own, purged at exit
#   check "what" cmd args...; finish
#
# lab_own needs root (skips with 77 otherwise), brings up a lab of HOSTS
# hosts in its own directory and netns, sources its lab.env and makes
# $WORK (kept with KEEP_WORK=1). rd LOG ARGS... runs renewd in the lab's
# netns: stdout in $WORK/LOG.out, stderr in LOG.err, the status in $rc.
# shellcheck shell=bash disable=SC2034
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../../.." && pwd)
LAB=$ROOT/contrib/lab/lab
RENEWD=${RENEWD_BIN:-$ROOT/build/renewd}
export RENEWD_PLUGINS=${RENEWD_PLUGINS:-$(dirname "$RENEWD")/plugins}

pass=0 fail=0
ok()     { pass=$((pass + 1)); printf 'ok   - %s\n' "$*"; }
not_ok() { fail=$((fail + 1)); printf 'FAIL - %s\n' "$*"; }
check()  { local d=$1; shift; if "$@"; then ok "$d"; else not_ok "$d"; fi; }
finish() { printf '%s: %d passed, %d failed\n' "$T" "$pass" "$fail"; ((fail == 0)); }

_labtest_cleanup() {
	local rc=$?
	"$LAB" down --purge >/dev/null 2>&1 || true
	[[ -n ${KEEP_WORK:-} ]] && echo "$T: kept $WORK" >&2 || rm -rf "$WORK"
	exit "$rc"
}

lab_own() { # DIR NETNS HOSTS
	[[ $(id -u) == 0 ]] || { echo "$T: SKIP: needs root (network namespaces, sshd)"; exit 77; }
	[[ -x $RENEWD ]] || { echo "$T: $RENEWD not built (set RENEWD_BIN)" >&2; exit 2; }
	export RENEWD_LAB_DIR=$1 RENEWD_LAB_NETNS=$2
	WORK=$(mktemp -d "/tmp/$T.XXXXXX")
	trap _labtest_cleanup EXIT
	trap 'exit 130' INT TERM
	"$LAB" down --purge >/dev/null 2>&1 || true
	if ! "$LAB" up --hosts "$3" >"$WORK/up.log" 2>&1; then
		not_ok "lab up"; sed 's/^/    /' "$WORK/up.log"; finish; exit 1
	fi
	# shellcheck disable=SC1091
	. "$RENEWD_LAB_DIR/lab.env"
}

rd() { # LOG ARGS...
	local name=$1; shift
	rc=0
	"$LAB" exec -- "$RENEWD" "$@" >"$WORK/$name.out" 2>"$WORK/$name.err" || rc=$?
}

# every file of every host's tree and of the CA depot, with its checksum
tree_sums() {
	find "$RENEWD_LAB_DIR"/hosts/*/root "$RENEWD_LAB_DIR/ca/depot" -type f -print0 |
		sort -z | xargs -0 sha256sum
}

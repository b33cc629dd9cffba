# tests/e2e/lib/labcommon.sh — sourced by lib/labtest.sh and lib/labown.sh
# (not by a test): what every e2e test that brings up a lab of its own
# shares, once. The two keep their own interfaces (labtest.sh: TEST,
# lab_begin, rd with the journal; labown.sh: T, lab_own, tree_sums).
#
# Sets ROOT LAB RENEWD RENEWD_PLUGINS and the tally; _lab_up DIR NETNS HOSTS
# skips (77) unless root, brings up a fresh lab of HOSTS hosts in DIR and
# NETNS, makes $WORK (kept with KEEP_WORK=1) and sources the lab's lab.env;
# at exit $DAEMON (when set) is killed and the lab purged. _rd LOG ARGS...
# runs renewd in the lab's netns: stdout in $WORK/LOG.out, stderr in
# LOG.err, the status in $rc. The test's name is $TEST or $T.
# shellcheck shell=bash disable=SC2034
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../../.." && pwd)
LAB=$ROOT/contrib/lab/lab
RENEWD=${RENEWD_BIN:-$ROOT/build/renewd}
export RENEWD_PLUGINS=${RENEWD_PLUGINS:-$(dirname "$RENEWD")/plugins}

pass=0 fail=0
DAEMON=
_lab_name() { printf '%s' "${TEST:-${T:-lab}}"; }
ok()     { pass=$((pass + 1)); printf 'ok   - %s\n' "$*"; }
not_ok() { fail=$((fail + 1)); printf 'FAIL - %s\n' "$*"; }
check()  { local d=$1; shift; if "$@"; then ok "$d"; else not_ok "$d"; fi; }
finish() { printf '%s: %d passed, %d failed\n' "$(_lab_name)" "$pass" "$fail"; ((fail == 0)); }

_lab_cleanup() {
	local rc=$?
	[[ -n ${DAEMON:-} ]] && kill "$DAEMON" 2>/dev/null || true
	"$LAB" down --purge >/dev/null 2>&1 || true
	[[ -n ${KEEP_WORK:-} ]] && echo "$(_lab_name): kept $WORK" >&2 || rm -rf "$WORK"
	exit "$rc"
}

_lab_up() { # DIR NETNS HOSTS
	[[ $(id -u) == 0 ]] || { echo "$(_lab_name): SKIP: needs root (network namespaces, sshd)" >&2; exit 77; }
	[[ -x $RENEWD ]] || { echo "$(_lab_name): $RENEWD not built (set RENEWD_BIN)" >&2; exit 2; }
	export RENEWD_LAB_DIR=$1 RENEWD_LAB_NETNS=$2
	WORK=$(mktemp -d "/tmp/$(_lab_name).XXXXXX")
	trap _lab_cleanup EXIT
	trap 'exit 130' INT TERM
	"$LAB" down --purge >/dev/null 2>&1 || true
	if ! "$LAB" up --hosts "$3" >"$WORK/up.log" 2>&1; then
		not_ok "lab up"; sed 's/^/    /' "$WORK/up.log"; finish; exit 1
	fi
	# shellcheck disable=SC1091
	. "$RENEWD_LAB_DIR/lab.env"
}

_rd() { # LOG ARGS...
	local name=$1; shift
	rc=0
	"$LAB" exec -- "$RENEWD" "$@" >"$WORK/$name.out" 2>"$WORK/$name.err" || rc=$?
}

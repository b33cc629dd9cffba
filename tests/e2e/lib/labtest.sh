# tests/e2e/lib/labtest.sh — sourced by the e2e tests that bring up a lab of
# their own (not a test itself): the ok/FAIL tally, the lab's set-up and
# tear-down, and the helpers every such test uses.
#
# Before sourcing, set TEST (the name in the summary line), LAB_DIR_NAME
# and LAB_NETNS (this test's lab, apart from the others'); then call
# lab_begin HOSTS. Afterwards: $LAB (the lab script), $WORK (removed at the
# end unless KEEP_WORK is set), $JOURNAL, $RENEWD; the lab's lab.env is
# sourced. $DAEMON, when set, is a background process killed at the end.

HERE=$(cd "$(dirname "${BASH_SOURCE[1]}")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
LAB=$ROOT/contrib/lab/lab
RENEWD=${RENEWD_BIN:-$ROOT/build/renewd}
export RENEWD_PLUGINS=${RENEWD_PLUGINS:-$(dirname "$RENEWD")/plugins}
export RENEWD_LAB_DIR=$LAB_DIR_NAME
export RENEWD_LAB_NETNS=$LAB_NETNS

pass=0 fail=0
DAEMON=
ok()     { pass=$((pass + 1)); printf 'ok   - %s\n' "$*"; }
not_ok() { fail=$((fail + 1)); printf 'FAIL - %s\n' "$*"; }
check()  { local d=$1; shift; if "$@"; then ok "$d"; else not_ok "$d"; fi; }
finish() { printf '%s: %d passed, %d failed\n' "$TEST" "$pass" "$fail"; ((fail == 0)); }

_lab_cleanup() {
	local rc=$?
	[[ -n $DAEMON ]] && kill "$DAEMON" 2>/dev/null || true
	"$LAB" down --purge >/dev/null 2>&1 || true
	[[ -n ${KEEP_WORK:-} ]] && echo "$TEST: kept $WORK" >&2 || rm -rf "$WORK"
	exit "$rc"
}

# lab_begin HOSTS: skip (77) unless root with sqlite3 and jq; a fresh lab of
# HOSTS hosts; the work directory and the journal.
lab_begin() {
	[[ $(id -u) == 0 ]] || { echo "$TEST: SKIP: needs root (network namespaces, sshd)" >&2; exit 77; }
	[[ -x $RENEWD ]] || { echo "$TEST: $RENEWD not built (set RENEWD_BIN)" >&2; exit 2; }
	local tool
	for tool in sqlite3 jq; do
		command -v $tool >/dev/null || { echo "$TEST: SKIP: needs $tool" >&2; exit 77; }
	done
	WORK=$(mktemp -d "/tmp/$TEST.XXXXXX")
	JOURNAL=$WORK/journal.db
	trap _lab_cleanup EXIT
	trap 'exit 130' INT TERM
	"$LAB" down --purge >/dev/null 2>&1 || true
	"$LAB" up --hosts "$1" >"$WORK/up.log" 2>&1 || { not_ok "lab up"; cat "$WORK/up.log"; finish; exit 1; }
	# shellcheck disable=SC1091
	. "$RENEWD_LAB_DIR/lab.env"
}

rd() { # rd LOGNAME ARGS... : renewd inside the lab netns; exit status in $rc
	local name=$1; shift
	rc=0
	"$LAB" exec -- "$RENEWD" "$@" --journal "$JOURNAL" >"$WORK/$name.out" 2>"$WORK/$name.err" || rc=$?
}
on() { "$LAB" ssh "$1" "${@:2}"; }
# certificates the lab CA issued so far
issued() { wc -l <"$RENEWD_LAB_DIR/ca/depot/index.txt"; }
wait_for() { # wait_for SECONDS CMD...: until CMD succeeds
	local until=$((SECONDS + $1))
	shift
	while ((SECONDS < until)); do "$@" && return 0; sleep 0.2; done
	return 1
}

# tests/e2e/lib/labtest.sh — sourced by lab e2e tests (not a test itself):
# the pass/fail counters and the lab's life around one test.
#
# Set before sourcing: T (the test's name, for its messages), LAB (the lab
# script), RENEWD (the binary).
# ok / not_ok / check DESC CMD... / finish: count and print "T: N passed,
#   M failed"; finish fails when anything failed.
# lab_require TOOL...: exit 77 (skip) unless root and every TOOL is there;
#   exit 2 when the binary is not built.
# lab_start HOSTS: a work directory in $WORK, a lab of HOSTS hosts (its
#   RENEWD_LAB_DIR and RENEWD_LAB_NETNS as exported by the test); on exit the
#   daemon in $DAEMON (if any) is killed, the lab purged, $WORK removed.

pass=0 fail=0
ok()     { pass=$((pass + 1)); printf 'ok   - %s\n' "$*"; }
not_ok() { fail=$((fail + 1)); printf 'FAIL - %s\n' "$*"; }
check()  { local d=$1; shift; if "$@"; then ok "$d"; else not_ok "$d"; fi; }
finish() { printf '%s: %d passed, %d failed\n' "$T" "$pass" "$fail"; ((fail == 0)); }

lab_require() {
	local t
	[[ $(id -u) == 0 ]] || { echo "$T: SKIP: needs root (network namespaces, sshd)" >&2; exit 77; }
	[[ -x $RENEWD ]] || { echo "$T: $RENEWD not built (set RENEWD_BIN)" >&2; exit 2; }
	for t in "$@"; do
		command -v "$t" >/dev/null || { echo "$T: SKIP: needs $t (contrib/deps.sh)" >&2; exit 77; }
	done
}

_lab_cleanup() {
	local rc=$?
	[[ -n ${DAEMON:-} ]] && kill "$DAEMON" 2>/dev/null || true
	"$LAB" down --purge >/dev/null 2>&1 || true
	rm -rf "$WORK"
	exit "$rc"
}

lab_start() {
	WORK=$(mktemp -d "/tmp/$T.XXXXXX")
	DAEMON=
	trap _lab_cleanup EXIT
	trap 'exit 130' INT TERM
	"$LAB" down --purge >/dev/null 2>&1 || true
	"$LAB" up --hosts "$1" >"$WORK/up.log" 2>&1 || { not_ok "lab up"; cat "$WORK/up.log"; finish; exit 1; }
}

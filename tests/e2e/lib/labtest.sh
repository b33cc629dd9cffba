# tests/e2e/lib/labtest.sh — sourced by e2e tests (not a test itself): the
# prologue of a test on its own lab.
#
# lt_begin NAME LAB_DIR NETNS: ROOT, LAB, RENEWD (RENEWD_BIN), RENEWD_PLUGINS,
#   the lab's directory and netns (the caller's defaults); the checks ok,
#   not_ok, check DESCRIPTION CMD..., finish ("NAME: N passed, M failed");
#   SKIP (77) without root; WORK, a fresh directory removed at exit with
#   the lab (KEEP_WORK=1 keeps it).
# lt_lab_up ARGS...: `lab up ARGS` from nothing, its lab.env sourced; a
#   failure is the test's failure.
lt_begin() {
	LT_NAME=$1
	ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../../.." && pwd)
	LAB=$ROOT/contrib/lab/lab
	RENEWD=${RENEWD_BIN:-$ROOT/build/renewd}
	export RENEWD_PLUGINS=${RENEWD_PLUGINS:-$(dirname "$RENEWD")/plugins}
	export RENEWD_LAB_DIR=$2 RENEWD_LAB_NETNS=$3
	pass=0 fail=0
	[[ $(id -u) == 0 ]] || { echo "$LT_NAME: SKIP: needs root (network namespaces, sshd)"; exit 77; }
	[[ -x $RENEWD ]] || { echo "$LT_NAME: $RENEWD not built (set RENEWD_BIN)" >&2; exit 2; }
	WORK=$(mktemp -d "/tmp/$LT_NAME.XXXXXX")
	trap _lt_cleanup EXIT
	trap 'exit 130' INT TERM
}
ok()     { pass=$((pass + 1)); printf 'ok   - %s\n' "$*"; }
not_ok() { fail=$((fail + 1)); printf 'FAIL - %s\n' "$*"; }
check()  { local d=$1; shift; if "$@"; then ok "$d"; else not_ok "$d"; fi; }
finish() { printf '%s: %d passed, %d failed\n' "$LT_NAME" "$pass" "$fail"; ((fail == 0)); }
_lt_cleanup() {
	local rc=$?
	"$LAB" down --purge >/dev/null 2>&1 || true
	if [[ -n ${KEEP_WORK:-} ]]; then echo "$LT_NAME: kept $WORK" >&2; else rm -rf "$WORK"; fi
	exit "$rc"
}
lt_lab_up() {
	"$LAB" down --purge >/dev/null 2>&1 || true
	if ! "$LAB" up "$@" >"$WORK/up.log" 2>&1; then
		not_ok "lab up"
		sed 's/^/    /' "$WORK/up.log"
		finish
		exit 1
	fi
	# shellcheck disable=SC1091
	. "$RENEWD_LAB_DIR/lab.env"
}

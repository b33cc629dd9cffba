# tests/e2e/lib/onehost.sh — the prologue of the lab tests that hurt one
# host (crash_points.sh, faults_*.sh); sourced, not a test itself.
#
# Before sourcing, set T (the test's name: its lab is
# /var/lib/renewd-lab-$T in netns renewd-lab-$T unless RENEWD_LAB_DIR /
# RENEWD_LAB_NETNS say otherwise) and HOSTS (default 1). It checks root, jq
# and sqlite3 (exit 77 without them), brings the lab up, sources its lab.env
# and renewcheck.sh, and defines:
#   ok / not_ok / check DESC CMD... / finish   (the "T: N passed, M failed" line)
#   WORK, JOURNAL, RB (the lab runbook pointed at this lab)
#   run NAME [ARGS...] [-- VAR=VALUE...]: `renewd run RB ARGS` in the lab
#       netns, output in $WORK/NAME.out and .err, exit status in $rc
#   due HOST: give HOST a due certificate; live_fp HOST: its live sha256
#   show FILE...: the last lines of FILEs, indented
#   caproxy_start ADDR MODEFILE [VAR=VALUE...]: lib/caproxy.pl on ADDR in
#       front of the lab CA until the test ends; returns once it answers
set -uo pipefail
: "${T:?set T before sourcing onehost.sh}"
E2E=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
ROOT=$(cd "$E2E/../.." && pwd)
LAB=$ROOT/contrib/lab/lab
RENEWD=${RENEWD_BIN:-$ROOT/build/renewd}
export RENEWD_PLUGINS=${RENEWD_PLUGINS:-$(dirname "$RENEWD")/plugins}
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1}
export RENEWD_LAB_DIR=${RENEWD_LAB_DIR:-/var/lib/renewd-lab-$T}
export RENEWD_LAB_NETNS=${RENEWD_LAB_NETNS:-renewd-lab-$T}
HOSTS=${HOSTS:-1}

pass=0 fail=0
ok()     { pass=$((pass + 1)); printf 'ok   - %s\n' "$*"; }
not_ok() { fail=$((fail + 1)); printf 'FAIL - %s\n' "$*"; }
check()  { local d=$1; shift; if "$@"; then ok "$d"; else not_ok "$d"; fi; }
finish() { printf '%s: %d passed, %d failed\n' "$T" "$pass" "$fail"; ((fail == 0)); exit $?; }
show()   { cat "$@" | tail -15 | sed 's/^/     | /'; }

[[ $(id -u) == 0 ]] || { echo "$T: SKIP: needs root (network namespaces, sshd)"; exit 77; }
command -v jq >/dev/null && command -v sqlite3 >/dev/null ||
	{ echo "$T: SKIP: needs jq and sqlite3 (contrib/deps.sh installs them)"; exit 77; }
[[ -x $RENEWD ]] || { echo "$T: $RENEWD not built (set RENEWD_BIN)" >&2; exit 2; }

WORK=$(mktemp -d "/tmp/$T.XXXXXX")
onehost_cleanup() {
	[[ -n ${ONEHOST_CLEANUP:-} ]] && eval "$ONEHOST_CLEANUP"
	"$LAB" down --purge >/dev/null 2>&1 || true
	if [[ -n ${KEEP_WORK:-} ]]; then echo "$T: kept $WORK" >&2; else rm -rf "$WORK"; fi
}
trap onehost_cleanup EXIT
trap 'exit 130' INT TERM
"$LAB" down --purge >/dev/null 2>&1 || true
if ! "$LAB" up --hosts "$HOSTS" >"$WORK/up.log" 2>&1; then
	not_ok "lab up"; show "$WORK/up.log"; finish
fi
# shellcheck disable=SC1091
. "$RENEWD_LAB_DIR/lab.env"
# shellcheck source=renewcheck.sh
. "$E2E/lib/renewcheck.sh"
JOURNAL=$WORK/journal.db
RB=$WORK/lab.json
sed "s|/var/lib/renewd-lab/|$RENEWD_LAB_DIR/|g" "$ROOT/runbooks/lab-posix-scep.json" >"$RB"

run() {
	local name=$1 args=() envs=()
	shift
	while (($#)) && [[ $1 != -- ]]; do args+=("$1"); shift; done
	(($#)) && shift && envs=("$@")
	rc=0
	"$LAB" exec -- env "${envs[@]}" "$RENEWD" run "$RB" "${args[@]}" --journal "$JOURNAL" \
		</dev/null >"$WORK/$name.out" 2>"$WORK/$name.err" || rc=$?
}
due() { "$LAB" cert "$1" --due </dev/null >/dev/null; }
caproxy_start() {
	local addr=$1 mode=$2
	shift 2
	"$LAB" exec -- env "$@" perl "$E2E/lib/caproxy.pl" "$addr" 127.0.0.2:8080 "$mode" "$WORK/proxy.pid" \
		</dev/null >"$WORK/proxy.log" 2>&1 &
	disown # not a job the test's own `wait` waits for
	ONEHOST_CLEANUP='[[ -s $WORK/proxy.pid ]] && kill -- -"$(cat "$WORK/proxy.pid")" 2>/dev/null'
	for _ in $(seq 1 50); do
		"$LAB" exec -- curl -fsS -o /dev/null "http://$addr/scep?operation=GetCACaps" 2>/dev/null && return 0
		sleep 0.1
	done
	return 1
}
live_fp() { openssl x509 -in "$RENEWD_LAB_DIR/hosts/$1/root/tls/server.crt" -noout -fingerprint -sha256 | cut -d= -f2 | tr -d : | tr A-F a-f; }

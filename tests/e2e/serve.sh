#!/usr/bin/env bash
# tests/e2e/serve.sh — `renewd serve` as a daemon against a 3-host lab.
#
# A runbook whose maintenance window is closed only probes: /metrics shows the
# certificates due and nothing renewed, and no file on any host changes. A
# runbook with no window renews every host on its first scan, later scans
# renew nothing, /metrics reports scans, renewals and each host's new expiry,
# and SIGTERM stops the daemon cleanly (exit 0). Prints "serve: N passed, M failed".
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
LAB=$ROOT/contrib/lab/lab
RENEWD=${RENEWD_BIN:-$ROOT/build/renewd}
export RENEWD_PLUGINS=${RENEWD_PLUGINS:-$(dirname "$RENEWD")/plugins}
export RENEWD_LAB_DIR=${SERVE_LAB_DIR:-/var/lib/renewd-lab-serve}
export RENEWD_LAB_NETNS=${SERVE_LAB_NETNS:-renewd-lab-serve}
PORT=9464

pass=0 fail=0
ok()     { pass=$((pass + 1)); printf 'ok   - %s\n' "$*"; }
not_ok() { fail=$((fail + 1)); printf 'FAIL - %s\n' "$*"; }
check()  { local d=$1; shift; if "$@"; then ok "$d"; else not_ok "$d"; fi; }
finish() { printf 'serve: %d passed, %d failed\n' "$pass" "$fail"; ((fail == 0)); }

[[ $(id -u) == 0 ]] || { echo "serve: needs root (network namespaces, sshd)" >&2; exit 2; }
[[ -x $RENEWD ]] || { echo "serve: $RENEWD not built (set RENEWD_BIN)" >&2; exit 2; }

WORK=$(mktemp -d /tmp/serve.XXXXXX)
DAEMON=
cleanup() {
	local rc=$?
	[[ -n $DAEMON ]] && kill "$DAEMON" 2>/dev/null || true
	"$LAB" down --purge >/dev/null 2>&1 || true
	rm -rf "$WORK"
	exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

"$LAB" down --purge >/dev/null 2>&1 || true
"$LAB" up --hosts 3 >"$WORK/up.log" 2>&1 || { not_ok "lab up"; cat "$WORK/up.log"; finish; exit 1; }
# shellcheck disable=SC1091
. "$RENEWD_LAB_DIR/lab.env"

metric() { # metric NAME: its value (first series) from /metrics
	"$LAB" exec -- curl -fsS "http://127.0.0.1:$PORT/metrics" 2>/dev/null | awk -v m="$1" '$1 ~ "^"m"[{ ]" || $1 == m {print $2; exit}'
}
wait_for() { # wait_for SECONDS CMD...: until CMD succeeds
	local until=$((SECONDS + $1))
	shift
	while ((SECONDS < until)); do "$@" && return 0; sleep 0.5; done
	return 1
}
start_daemon() { # start_daemon RUNBOOK
	"$LAB" exec -- "$RENEWD" serve "$1" --journal "$WORK/journal.db" --listen "127.0.0.1:$PORT" \
		>"$WORK/serve.out" 2>"$WORK/serve.err" &
	DAEMON=$!
	wait_for 20 bash -c "'$LAB' exec -- curl -fsS http://127.0.0.1:$PORT/healthz >/dev/null 2>&1"
}
stop_daemon() {
	local rc=0
	kill -TERM "$DAEMON"
	wait "$DAEMON" || rc=$?
	DAEMON=
	return $rc
}
tree_sums() { find "$RENEWD_LAB_DIR"/hosts/*/root "$RENEWD_LAB_DIR/ca/depot" -type f -print0 | sort -z | xargs -0 sha256sum; }

base=$(sed "s|/var/lib/renewd-lab/|$RENEWD_LAB_DIR/|g" "$ROOT/runbooks/lab-posix-scep.json")
# a window that opened an hour after now and lasts 30 minutes: closed now
closed="daily $(date -d '+1 hour' +%H):00-$(date -d '+1 hour' +%H):30"
sed 's|"schedule": {[^}]*}|"schedule": {"scan_interval": "2s", "jitter": "1s", "window": "'"$closed"'"}|' <<<"$base" >"$WORK/closed.json"
sed 's|"schedule": {[^}]*}|"schedule": {"scan_interval": "2s", "jitter": "1s", "max_parallel": 8}|' <<<"$base" >"$WORK/open.json"
check "test runbooks validate" "$RENEWD" validate "$WORK/closed.json" "$WORK/open.json"

# ---------------------------------------------------------------- closed window
tree_sums >"$WORK/before.sums"
check "serve starts and answers /healthz" start_daemon "$WORK/closed.json"
check "a scan outside the window finds 3 due" wait_for 60 bash -c "[ \"\$(awk '/^renewd_due/{print \$2}' <('$LAB' exec -- curl -fsS http://127.0.0.1:$PORT/metrics))\" = 3 ]"
check "and renews nothing" test "$(metric renewd_renewed_total)" = 0
check "the log says probe only" grep -q 'outside the maintenance window, probe only' "$WORK/serve.out"
check "SIGTERM stops serve (exit 0)" stop_daemon
tree_sums >"$WORK/after.sums"
check "no file changed on any host nor in the CA depot" cmp -s "$WORK/before.sums" "$WORK/after.sums"

# ---------------------------------------------------------------- open window
check "serve starts again" start_daemon "$WORK/open.json"
check "the first scans renew all 3" wait_for 90 bash -c "[ \"\$(awk '/^renewd_renewed_total/{print \$2}' <('$LAB' exec -- curl -fsS http://127.0.0.1:$PORT/metrics))\" = 3 ]"
scans=$(metric renewd_scans_total)
check "later scans run" wait_for 30 bash -c "[ \"\$(awk '/^renewd_scans_total/{print \$2}' <('$LAB' exec -- curl -fsS http://127.0.0.1:$PORT/metrics))\" -gt $scans ]"
check "and renew nothing more" test "$(metric renewd_renewed_total)" = 3
check "no failures" test "$(metric renewd_failed_total)" = 0
now=$(date +%s)
"$LAB" exec -- curl -fsS "http://127.0.0.1:$PORT/metrics" >"$WORK/metrics.txt"
for h in h0001 h0002 h0003; do
	na=$(awk -v h="$h" '/^renewd_certificate_not_after_seconds/ && index($1, "host=\"" h "\"") {print $2}' "$WORK/metrics.txt")
	check "$h: expiry metric is the new certificate's (~30 days)" test "${na:-0}" -gt $((now + 29 * 86400))
done
check "an unknown path is 404" bash -c "! '$LAB' exec -- curl -fsS http://127.0.0.1:$PORT/nope >/dev/null 2>&1"
check "SIGTERM stops serve (exit 0)" stop_daemon
check "the journal says DONE for all 3" test "$(sqlite3 "$WORK/journal.db" "select count(*) from jobs where state='DONE'")" = 3
check "no handles left open at exit" bash -c "! grep -q 'handles left open' '$WORK/serve.err'"

finish

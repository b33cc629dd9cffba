#!/usr/bin/env bash
# tests/e2e/serve.sh — `renewd serve` as a daemon against a 3-host lab.
#
# A runbook whose maintenance window is closed only probes: /metrics shows the
# certificates due and nothing renewed, and no file on any host changes. A
# runbook with no window renews every host on its first scan, later scans
# renew nothing, /metrics reports scans, renewals and each host's new expiry,
# and SIGTERM stops the daemon cleanly (exit 0). That daemon runs with
# UV_THREADPOOL_SIZE=1 (scans run on the main loop, not in the pool their own
# name lookups need), and /metrics, /healthz and /status (JSON) answer while
# a scan runs. An idle client does not delay SIGTERM beyond one second.
# RENEWD_TEST_JOURNAL=pg: the journal on PostgreSQL (lib/journalq.sh; one
# instance, so its scans are divided among one).
# Prints "serve: N passed, M failed"; exits 77 (skip) when it cannot run.
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

[[ $(id -u) == 0 ]] || { echo "serve: SKIP: needs root (network namespaces, sshd)" >&2; exit 77; }
[[ -x $RENEWD ]] || { echo "serve: $RENEWD not built (set RENEWD_BIN)" >&2; exit 2; }
command -v jq >/dev/null || { echo "serve: SKIP: needs jq" >&2; exit 77; }

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
JOURNAL=$WORK/journal.db
# shellcheck source=lib/journalq.sh
. "$HERE/lib/journalq.sh"
journal_setup

"$LAB" down --purge >/dev/null 2>&1 || true
"$LAB" up --hosts 3 >"$WORK/up.log" 2>&1 || { not_ok "lab up"; cat "$WORK/up.log"; finish; exit 1; }
# shellcheck disable=SC1091
. "$RENEWD_LAB_DIR/lab.env"

metric() { # metric NAME: its value (first series) from /metrics
	"$LAB" exec -- curl -fsS "http://127.0.0.1:$PORT/metrics" 2>/dev/null | awk -v m="$1" '!f && ($1 ~ "^"m"[{ ]" || $1 == m) {print $2; f = 1}'
}
wait_for() { # wait_for SECONDS CMD...: until CMD succeeds
	local until=$((SECONDS + $1))
	shift
	while ((SECONDS < until)); do "$@" && return 0; sleep 0.5; done
	return 1
}
jqt() { jq -e "$@" >/dev/null; } # jqt FILTER FILE: the filter holds
get() { # get PATH: the body, or fail
	"$LAB" exec -- curl -fsS -m 5 "http://127.0.0.1:$PORT$1" 2>/dev/null
}
start_daemon() { # start_daemon RUNBOOK [VAR=VALUE...]: the environment of the daemon
	"$LAB" exec -- env "${@:2}" "$RENEWD" serve "$1" --journal "$JOURNAL" --listen "127.0.0.1:$PORT" \
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
# one scan at start, then nothing for an hour: a daemon that is idle when stopped
sed 's|"schedule": {[^}]*}|"schedule": {"scan_interval": "1h", "jitter": "0s", "window": "'"$closed"'"}|' <<<"$base" >"$WORK/hourly.json"
check "test runbooks validate" "$RENEWD" validate "$WORK/closed.json" "$WORK/open.json" "$WORK/hourly.json"

# ---------------------------------------------------------------- closed window
tree_sums >"$WORK/before.sums"
check "serve starts and answers /healthz" start_daemon "$WORK/closed.json"
check "a scan outside the window finds 3 due" wait_for 60 bash -c "[ \"\$(awk '/^renewd_due/{print \$2}' <('$LAB' exec -- curl -fsS http://127.0.0.1:$PORT/metrics))\" = 3 ]"
check "and renews nothing" test "$(metric renewd_renewed_total)" = 0
check "the log says probe only" grep -q 'renewd: info: serve: runbook .*: outside the maintenance window, probe only' "$WORK/serve.err"
check "SIGTERM stops serve (exit 0)" stop_daemon
tree_sums >"$WORK/after.sums"
check "no file changed on any host nor in the CA depot" cmp -s "$WORK/before.sums" "$WORK/after.sums"

# ---------------------------------------------------------------- open window
# one thread in libuv's pool: a scan inside the pool would starve its own
# name lookups (a scan failed "during resolving the address", or hung)
check "serve starts again (UV_THREADPOOL_SIZE=1)" start_daemon "$WORK/open.json" UV_THREADPOOL_SIZE=1
during_scan() { # /metrics shows a scan running; /healthz and /status answer meanwhile
	local until=$((SECONDS + 60))
	while ((SECONDS < until)); do
		if get /metrics | grep '^renewd_scan_running{runbook="lab-posix-scep"} 1$' >/dev/null; then
			get /healthz >"$WORK/healthz.txt" || continue
			get /status >"$WORK/status.json" || continue
			jqt '.runbooks[0].state == "scanning"' "$WORK/status.json" && return 0
		fi
		sleep 0.1
	done
	return 1
}
check "/metrics, /healthz and /status answer during a scan" during_scan
check "/healthz says ok" grep -qx ok "$WORK/healthz.txt"
check "/status is JSON with runbooks, jobs and fleet" jqt '(.runbooks | length) == 1 and (.jobs | type) == "object" and (.fleet.hosts | type) == "number"' "$WORK/status.json"
check "the first scans renew all 3" wait_for 90 bash -c "[ \"\$(awk '/^renewd_renewed_total/{print \$2}' <('$LAB' exec -- curl -fsS http://127.0.0.1:$PORT/metrics))\" = 3 ]"
scans=$(metric renewd_scans_total)
check "later scans run" wait_for 30 bash -c "[ \"\$(awk '/^renewd_scans_total/{print \$2}' <('$LAB' exec -- curl -fsS http://127.0.0.1:$PORT/metrics))\" -gt $scans ]"
check "and renew nothing more" test "$(metric renewd_renewed_total)" = 3
check "no failures" test "$(metric renewd_failed_total)" = 0
now=$(date +%s)
"$LAB" exec -- curl -fsS "http://127.0.0.1:$PORT/metrics" >"$WORK/metrics.txt"
for h in h0001 h0002 h0003; do
	na=$(awk -v h="$h" '/^renewd_certificate_expiration_timestamp_seconds/ && index($1, "host=\"" h "\"") {print $2}' "$WORK/metrics.txt")
	check "$h: expiry metric is the new certificate's (~30 days)" test "${na:-0}" -gt $((now + 29 * 86400))
done
check "an unknown path is 404" bash -c "! '$LAB' exec -- curl -fsS http://127.0.0.1:$PORT/nope >/dev/null 2>&1"
check "a query string is ignored: /metrics?x is /metrics" bash -c "'$LAB' exec -- curl -fsS 'http://127.0.0.1:$PORT/metrics?x' | grep '^renewd_scans_total' >/dev/null"
check "HEAD /metrics: 200 with no body" bash -c "[ \"\$('$LAB' exec -- curl -sS -I -o /dev/null -w '%{http_code} %{size_download}' http://127.0.0.1:$PORT/metrics)\" = '200 0' ]"
check "POST is 405" bash -c "[ \"\$('$LAB' exec -- curl -sS -X POST -o /dev/null -w '%{http_code}' http://127.0.0.1:$PORT/metrics)\" = 405 ]"
get /status >"$WORK/status.json"
check "/status: jobs by state from the journal (3 DONE)" jqt '.jobs.by_state.DONE == 3' "$WORK/status.json"
check "/status: the fleet's 3 certificates expire in ~30 days" jqt '.fleet.hosts == 3 and .fleet.expiring_within_30d == 3 and .fleet.expired == 0' "$WORK/status.json"
check "/status: the next scan is in the future" jqt '.runbooks[0].next_scan == null or .runbooks[0].next_scan >= .now' "$WORK/status.json"
check "SIGTERM stops serve (exit 0)" stop_daemon
"$LAB" exec -- "$RENEWD" status --json --journal "$JOURNAL" >"$WORK/jobs.json"
check "the journal says DONE for all 3 (renewd status)" jqt '[.jobs[] | select(.state == "DONE")] | length == 3' "$WORK/jobs.json"
check "no handles left open at exit" bash -c "! grep -q 'handles left open' '$WORK/serve.err'"

# ---------------------------------------------------------------- idle client at SIGTERM
# The daemon scans once at start, then sits idle with a client connected
# that never sends a byte. SIGTERM must not wait for that client. The leak
# check of a sanitizer build runs at exit and is no part of the stop: it is
# switched off for this daemon.
check "serve starts (hourly scans)" start_daemon "$WORK/hourly.json" ASAN_OPTIONS=detect_leaks=0
# a restarted daemon knows its fleet from the journal's inventory before its
# first scan has ended
get /status >"$WORK/status0.json"
check "restarted: /status knows the 3 certificates from the journal at once" jqt '.fleet.hosts == 3 and .fleet.expiring_within_30d == 3' "$WORK/status0.json"
check "its first scan ended" wait_for 60 bash -c "[ \"\$(awk '/^renewd_scans_total/{print \$2}' <('$LAB' exec -- curl -fsS http://127.0.0.1:$PORT/metrics))\" = 1 ]"
"$LAB" exec -- bash -c "exec 3<>/dev/tcp/127.0.0.1/$PORT; sleep 30" &
IDLE=$!
sleep 0.5 # connected
t0=$(date +%s%N)
kill -TERM "$DAEMON"
rc=0
wait "$DAEMON" || rc=$?
t1=$(date +%s%N)
DAEMON=
stop_ms=$(((t1 - t0) / 1000000))
echo "     SIGTERM to exit with an idle client connected: ${stop_ms} ms"
check "SIGTERM with an idle client connected: exit 0" test "$rc" = 0
check "... within one second (${stop_ms} ms)" test "$stop_ms" -lt 1000
check "... and says so" grep -q 'renewd: notice: serve: stopped' "$WORK/serve.err"
kill "$IDLE" 2>/dev/null || true
wait "$IDLE" 2>/dev/null || true

finish

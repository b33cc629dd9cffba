#!/usr/bin/env bash
# tests/e2e/host_lease.sh — one change per host at a time (the host lease,
# docs/JOURNAL.md "Host leases") on a 1-host lab.
#
# Every runbook here carries a "reload" hook (posix.exec) that appends
# "start TIME TAG" to a log on the host, sleeps, then "end TIME TAG": two
# changes of the host at once would interleave those lines.
#  1. `renewd run A.json B.json --force`, two runbooks on the same host: both
#     renew, one after the other (the log's start/end pairs never overlap);
#     the journal's audit shows claim and release of the lease, epochs 1, 2.
#  2. `renewd run` beside a `renewd serve` that is renewing the host: the run
#     ends BUSY (exit 1) naming serve's job, changes nothing and asks nothing
#     of the CA; `renewd status` shows the lease; once serve's job ended, the
#     same run renews.
#  3. A run SIGKILLed while it holds the lease: the next run takes the lease
#     over at once (its holder is dead), resumes the job and finishes it.
#  4. A `serve` whose scan finds the host leased by a running `run` logs it
#     BUSY and renews at a later scan, once the run has ended.
# RENEWD_TEST_JOURNAL=pg: the journal on PostgreSQL (lib/journalq.sh).
# Prints "host_lease: N passed, M failed"; exits 77 (skip) when it cannot run.
set -euo pipefail

TEST=host_lease
LAB_DIR_NAME=${LEASE_LAB_DIR:-/var/lib/renewd-lab-lease}
LAB_NETNS=${LEASE_LAB_NETNS:-renewd-lab-lease}
# shellcheck source=lib/labtest.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib/labtest.sh"
PORT=9466
lab_begin 1
# shellcheck source=lib/journalq.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib/journalq.sh"
journal_setup
LOG=/srv/renewd-lab/reloads.log

# The reload log: its start/end lines alternate, each end closing the start
# before it (same tag, not earlier); prints the number of changes.
changes_serial() {
	on h0001 "cat $LOG" | awk '
		$1 == "start" { if (open) bad = 1; open = 1; tag = $3; t = $2; n++ }
		$1 == "end"   { if (!open || $3 != tag || $2 < t) bad = 1; open = 0 }
		END { if (bad || open) exit 1; print n }'
}
log_has() { on h0001 "cat $LOG" | grep -q "$1"; }
# lease events of the audit, in order: "lease.claim 1", "lease.release 1"...
lease_events() {
	jsql "select event, $(jfield detail epoch) from audit
		where event like 'lease.%' and $(jfield detail host) = 'h0001' order by id" | tr '|' ' '
}
lease_held() { jsql "select held from leases where host = 'h0001'"; }
test_lease_held() { [ "$(lease_held)" = "$1" ]; }
serve_job_done() { [ "$(jsql "select state from jobs where runbook = 'lease-serve' order by id desc limit 1")" = DONE ]; }

# A runbook NAME with a reload hook tagged TAG that sleeps SECS.
runbook() { # runbook NAME TAG SECS SCHEDULE
	cat >"$WORK/$2.sh" <<-HOOK
		if [ "\$1" = apply ]; then
		  echo "start \$(date +%s.%N) $2" >>$LOG
		  sleep $3
		  echo "end \$(date +%s.%N) $2" >>$LOG
		fi
		true
	HOOK
	sed -e "s|/var/lib/renewd-lab/|$RENEWD_LAB_DIR/|g" -e "s|\"name\": \"lab-posix-scep\"|\"name\": \"$1\"|" \
		-e "s|{\"type\": \"tls.verify\"|{\"type\": \"posix.exec\", \"name\": \"reload hook\", \"params\": {\"file\": \"$WORK/$2.sh\"}, \"timeout\": \"60s\"}, &|" \
		-e "s|\"schedule\": {[^}]*}|\"schedule\": $4|" \
		"$ROOT/runbooks/lab-posix-scep.json" >"$WORK/$2.json"
}
runbook lease-a A 2 '{"max_parallel": 4}'
runbook lease-b B 2 '{"max_parallel": 4}'
runbook lease-serve S 12 '{"scan_interval": "1h", "jitter": "0s"}'
runbook lease-slow K 30 '{"max_parallel": 4}'
runbook lease-slow2 L 8 '{"max_parallel": 4}'
# a daemon scanning every 2 s that always finds the certificate due
runbook lease-eager T 1 '{"scan_interval": "2s", "jitter": "0s"}'
sed -i 's|"renew_before": "10d"|"renew_before": "365d"|' "$WORK/T.json"
check "test runbooks validate" "$RENEWD" validate "$WORK/A.json" "$WORK/B.json" "$WORK/S.json" "$WORK/K.json" \
	"$WORK/L.json" "$WORK/T.json"
check "the hook runs before the TLS check" grep -q '"reload hook"' "$WORK/A.json"

# ------------------------------------------------------------- 1. two runbooks, one run
issued0=$(issued)
rd ab run "$WORK/A.json" "$WORK/B.json" --force
check "run A.json B.json renews twice (exit 10), got $rc" test "$rc" = 10
check "both jobs DONE" grep -q "run: 2 targets, 2 due, 2 renewed, 0 failed" "$WORK/ab.out"
check "the CA issued two certificates" test "$(($(issued) - issued0))" = 2
check "the host was changed by one job at a time (2 changes, never overlapping)" \
	test "$(changes_serial)" = 2
check "the audit shows the lease claimed and released, epochs 1 and 2" \
	test "$(lease_events | tr '\n' ,)" = "lease.claim 1,lease.release 1,lease.claim 2,lease.release 2,"
rd free status --all --json
check "the lease is free at the end, epoch 2 (renewd status)" \
	bash -c "jq -e '.leases | length == 1 and .[0].host == \"h0001\" and (.[0].held | not) and .[0].epoch == 2' '$WORK/free.out' >/dev/null"

# ------------------------------------------------------------- 2. run beside serve
"$LAB" cert h0001 --due >/dev/null
on h0001 "sudo -n truncate -s 0 $LOG"
"$LAB" exec -- "$RENEWD" serve "$WORK/S.json" --journal "$JOURNAL" --listen "127.0.0.1:$PORT" \
	>"$WORK/serve.out" 2>&1 &
DAEMON=$!
check "serve's scan reaches the reload hook" wait_for 60 log_has "^start .* S$"
issued1=$(issued)
rd status status
check "status shows serve's lease on the host" grep -q "^lease h0001: held by .* (runbook lease-serve, certificate /srv/renewd-lab/tls/server.crt) since" "$WORK/status.out"
rd statusjson status --json
check "status --json lists the lease with its holder and epoch" \
	bash -c "jq -e '.leases | length == 1 and .[0].host == \"h0001\" and .[0].held and .[0].epoch == 3 and (.[0].what | test(\"lease-serve\"))' '$WORK/statusjson.out' >/dev/null"
rd busy run "$WORK/A.json" --force
check "run beside serve: exit 1, got $rc" test "$rc" = 1
check "run beside serve: the host is BUSY" grep -q "^host h0001 (posix): BUSY" "$WORK/busy.out"
check "and the report names serve's job and since when" \
	grep -q "^  busy: host leased by .*:[0-9]*:[0-9]* (runbook lease-serve, certificate /srv/renewd-lab/tls/server.crt) since 20[0-9-]*T[0-9:]*Z" "$WORK/busy.out"
check "the busy run asked nothing of the CA" test "$(issued)" = "$issued1"
rd busyjson run "$WORK/A.json" --force --json
check "--json: the job says BUSY with its holder" \
	bash -c "jq -e '.jobs[0].state == \"BUSY\" and (.jobs[0].busy.what | test(\"lease-serve\"))' '$WORK/busyjson.out' >/dev/null"
check "serve's job ends DONE" wait_for 60 serve_job_done
check "and frees the lease" wait_for 10 test_lease_held 0
check "the busy runs did not touch the host (serve's change only)" test "$(changes_serial)" = 1
rd after run "$WORK/A.json" --force
check "once serve is done, the same run renews (exit 10), got $rc" test "$rc" = 10
check "still one change at a time (2 changes)" test "$(changes_serial)" = 2
kill -TERM "$DAEMON"
wait "$DAEMON" || true
DAEMON=

# ------------------------------------------------------------- 3. a killed holder
on h0001 "sudo -n truncate -s 0 $LOG"
"$LAB" exec -- "$RENEWD" run "$WORK/K.json" --force --journal "$JOURNAL" >"$WORK/killed.out" 2>&1 &
killed=$!
check "the slow run reaches its reload hook" wait_for 60 log_has "^start .* K$"
"$LAB" exec -- pkill -9 -f "renewd run $WORK/K.json" || true
wait "$killed" 2>/dev/null || true
"$LAB" exec -- pkill -f 'sleep 30' || true # the hook it left running on the host
check "the killed run still holds the lease in the journal" test_lease_held 1
sed -i 's/sleep 30/sleep 1/' "$WORK/K.sh"
rd resume run "$WORK/K.json"
check "the next run takes the lease over at once and resumes (exit 10), got $rc" test "$rc" = 10
check "the audit records the take-over from the dead holder" \
	test "$(jsql "select count(*) from audit where event = 'lease.takeover'
		and $(jfield detail previous.what) like 'runbook lease-slow%'")" = 1
rd takeovers status --all --json
check "renewd status --all shows that take-over, epoch 6" \
	bash -c "jq -e '[.takeovers[] | select(.kind == \"lease\" and .host == \"h0001\")] | length == 1 and .[0].epoch == 6' '$WORK/takeovers.out' >/dev/null"
check "the report says it resumed" grep -q "resuming job [0-9]*, interrupted in FOLLOWUPS" "$WORK/resume.out"
check "epochs grew at every claim" \
	test "$(jsql "select $(jfield detail epoch) from audit where event in ('lease.claim', 'lease.takeover')
		order by id" | paste -sd,)" = "1,2,3,4,5,6"

# ------------------------------------------------------------- 4. serve finds the host busy
on h0001 "sudo -n truncate -s 0 $LOG"
"$LAB" exec -- "$RENEWD" run "$WORK/L.json" --force --journal "$JOURNAL" >"$WORK/slow2.out" 2>&1 &
slow=$!
check "a slow run reaches its reload hook" wait_for 60 log_has "^start .* L$"
"$LAB" exec -- "$RENEWD" serve "$WORK/T.json" --journal "$JOURNAL" --listen "127.0.0.1:$PORT" \
	>"$WORK/serve2.out" 2>&1 &
DAEMON=$!
check "serve's scan finds the host BUSY, leased by the run" \
	wait_for 30 grep -q "host h0001: BUSY: host h0001: busy: another job is changing it (runbook lease-slow2," "$WORK/serve2.out"
rc=0
wait "$slow" || rc=$?
check "the run renews (exit 10), got $rc" test "$rc" = 10
check "a later scan of serve renews" wait_for 60 grep -q "host h0001: DONE" "$WORK/serve2.out"
kill -TERM "$DAEMON"
wait "$DAEMON" || true
DAEMON=
n=$(changes_serial) || n=overlapping
check "the run's change and serve's never overlapped ($n changes)" test "$n" -ge 2
check "serve changed the host only after the run" bash -c "'$LAB' ssh h0001 'cat $LOG' | head -2 | grep -q '^end .* L$'"

finish

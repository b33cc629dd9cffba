#!/usr/bin/env bash
# tests/e2e/faults_ssh.sh — the SSH connection lost mid-step: one lab host,
# the lab runbook with a slow first follow-up (posix.exec, 10 s). While it
# runs (the new certificate installed), the host's sshd is SIGKILLed with
# every process it started (lib/proctree.sh: the per-connection sshd
# processes, and with the session shell the loader and the step's command,
# children of a long-lived shell rather than of one execution's sshd): the
# follow-up fails, every rollback
# fails to connect, and the job is left ROLLING_BACK — owed, not terminal
# (core/job.c) — with the run's exit 1, no crash, the old certificate still
# served. sshd back, the next run
# (no --force: an owed rollback waits for no backoff) finishes the same
# job's rollback: ROLLED_BACK, the old certificate served and pinned, no
# second request; the run after that renews (DONE, served, pinned).
# Before the fix the job ended FAILED with the new certificate live and
# app.conf pinning the old one, and the next run stopped in its pre-flight.
# RENEWD_TEST_JOURNAL=pg: the journal on PostgreSQL (lib/journalq.sh).
# Needs root. Prints "faults_ssh: N passed, M failed".
T=faults_ssh H=h0001
# shellcheck source=lib/onehost.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib/onehost.sh"
journal_setup # lib/journalq.sh, through lib/renewcheck.sh
# shellcheck source=lib/pins.sh
. "$E2E/lib/pins.sh"
# shellcheck source=lib/proctree.sh
. "$E2E/lib/proctree.sh"

state() { jnewest "$H"; }
last_id() { jnewest "$H" id; }
# after the rollback the pins are compared without case (lib/pins.sh)
fine() { [[ -z $(rc_jobs_ok "$JOURNAL" "$H"; rc_host_ok "$H"; rc_pins_nocase "$H") ]]; }
job_error() { jnewest "$H" error; }
jq '.steps = [{type: "posix.exec", name: "slow", params: {script: "[ \"$1\" = apply ] && sleep 10; true"}, timeout: "60s"}] + .steps' "$RB" >"$WORK/slow.json"
due $H
old=$(live_fp $H)
(RB=$WORK/slow.json run killed; exit "$rc") &
runpid=$!
sshd=$(cat "$RENEWD_LAB_DIR/hosts/$H/sshd.pid")
# the slow step is the first follow-up: the job is in FOLLOWUPS while it runs
for _ in $(seq 1 300); do journal_made && [[ $(state 2>/dev/null) == FOLLOWUPS ]] && break; sleep 0.1; done
sleep 2
# the listener and every process under it, by pid
kill_tree "$sshd"
wait $runpid; rc=$?
check "killed: the run fails (exit 1), got $rc" test "$rc" = 1
check "killed: renewd did not crash" bash -c "! grep -q 'AddressSanitizer\|runtime error' '$WORK/killed.err'"
check "killed: the job is owed (ROLLING_BACK), got $(state)" test "$(state)" = ROLLING_BACK
check "killed: the journal says the rollback is owed" grep -q "rollback owed" <<<"$(job_error)"
# the new certificate may be live on disk, the service was not reloaded
check "killed: the service still serves the old certificate" test "$(rc_served $H)" = "$old"
job=$(last_id) issued=$(rc_issued)
"$LAB" start-sshd $H >/dev/null 2>&1
RB=$WORK/slow.json run back
check "sshd back: the owed rollback finishes (exit 1), got $rc" test "$rc" = 1
check "sshd back: the same job ends ROLLED_BACK, got $(last_id):$(state)" \
	test "$(last_id):$(state)" = "$job:ROLLED_BACK"
why=$(rc_host_ok "$H"; rc_pins_nocase "$H")
check "sshd back: the old certificate served and pinned${why:+: $why}" test -z "$why"
check "sshd back: the old certificate is live again" test "$(live_fp $H)" = "$old"
check "sshd back: no second request" test "$(rc_issued)" = "$issued"
run after --force
check "then: the next run renews (exit 10), got $rc" test "$rc" = 10
check "then: DONE, renewed, served, pinned" fine
((fail)) && show "$WORK/killed.out" "$WORK/back.out" "$WORK/back.err" "$RENEWD_LAB_DIR/hosts/$H/root/etc/app.conf"
finish

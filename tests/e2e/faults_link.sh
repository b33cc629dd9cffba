#!/usr/bin/env bash
# tests/e2e/faults_link.sh — one host's link taken down mid-run: three lab
# hosts renewed together (waves ["100%"]) with the lab runbook and a slow
# first follow-up (posix.exec, 6 s). While h0002 runs it (its new
# certificate installed, journal state FOLLOWUPS), every packet to or from
# h0002 is dropped (lib/link.sh: nftables in the lab's netns; no refusal,
# the connection just stops answering). Then:
#  - h0001 and h0003 renew (DONE, served, pinned);
#  - h0002's step times out, its rollback cannot reach it (transient: a
#    timeout), so the job is left ROLLING_BACK — owed, not terminal — and
#    the run exits 1 without crashing;
#  - link back, the next run (no --force) resumes that job and finishes its
#    rollback: ROLLED_BACK, the old certificate live, served and pinned,
#    nothing staged, no second request — nothing half-changed;
#  - the run after that (--force: the rolled-back job's backoff) renews it.
# RENEWD_TEST_JOURNAL=pg: the journal on PostgreSQL (lib/journalq.sh).
# Needs root and nft. Prints "faults_link: N passed, M failed".
T=faults_link HOSTS=3 H=h0002
command -v nft >/dev/null || { echo "$T: SKIP: needs nft (contrib/deps.sh installs nftables)"; exit 77; }
# shellcheck source=lib/onehost.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib/onehost.sh"
journal_setup # lib/journalq.sh, through lib/renewcheck.sh
# shellcheck source=lib/link.sh
. "$E2E/lib/link.sh"
# shellcheck source=lib/pins.sh
. "$E2E/lib/pins.sh"
ONEHOST_CLEANUP='link_up $H'

state() { jnewest "$1"; }
last_id() { jnewest "$H" id; }
job_error() { jnewest "$H" error; }
fine() { [[ -z $(rc_jobs_ok "$JOURNAL" "$1"; rc_host_ok "$1"; rc_pins_ok "$1") ]]; }
# the same after a rollback on that host (lib/pins.sh)
fine_nocase() { [[ -z $(rc_jobs_ok "$JOURNAL" "$1"; rc_host_ok "$1"; rc_pins_nocase "$1") ]]; }
jq '.ssh.connect_timeout = "3s" | .ssh.command_timeout = "20s" | .schedule.waves = ["100%"]
	| .steps = [{type: "posix.exec", name: "slow", params: {script: "[ \"$1\" = apply ] && sleep 6; true"},
		timeout: "12s"}] + .steps' "$RB" >"$WORK/slow.json"

declare -A old
for h in h0001 h0002 h0003; do due $h; old[$h]=$(live_fp $h); done
issued0=$(rc_issued)
(RB=$WORK/slow.json run down; exit "$rc") &
runpid=$!
for _ in $(seq 1 600); do journal_made && [[ $(state $H 2>/dev/null) == FOLLOWUPS ]] && break; sleep 0.1; done
sleep 1
link_down $H || not_ok "link down"
wait $runpid; rc=$?
check "link down: the run fails (exit 1), got $rc" test "$rc" = 1
check "link down: renewd did not crash" bash -c "! grep -q 'AddressSanitizer\|runtime error' '$WORK/down.err'"
for h in h0001 h0003; do
	check "link down: $h renewed (DONE, served, pinned)" fine $h
done
check "link down: $H's job is owed (ROLLING_BACK), got $(state $H)" test "$(state $H)" = ROLLING_BACK
check "link down: the journal says why (a timeout) and that the rollback is owed" \
	grep -q "timed out.*rollback owed: the next run finishes it" <<<"$(job_error)"
check "link down: three certificates issued" test "$(($(rc_issued) - issued0))" = 3
job=$(last_id) issued=$(rc_issued)

link_up $H
RB=$WORK/slow.json run back
check "link back: the owed rollback finishes (exit 1), got $rc" test "$rc" = 1
check "link back: the same job ends ROLLED_BACK, got $(last_id):$(state $H)" \
	test "$(last_id):$(state $H)" = "$job:ROLLED_BACK"
why=$(rc_host_ok $H; rc_pins_nocase $H)
check "link back: nothing half-changed: the old certificate served and pinned${why:+: $why}" test -z "$why"
check "link back: the old certificate is live again" test "$(live_fp $H)" = "${old[$H]}"
check "link back: no second request" test "$(rc_issued)" = "$issued"
check "link back: the others are left alone (nothing due)" test "$(state h0001)/$(state h0003)" = DONE/DONE
RB=$WORK/slow.json run after --force
check "then: the next run renews $H (exit 10), got $rc" test "$rc" = 10
check "then: $H DONE, renewed, served, pinned" fine_nocase $H
check "then: $H has a new certificate" test "$(live_fp $H)" != "${old[$H]}"
((fail)) && show "$WORK/down.out" "$WORK/back.out" "$WORK/back.err"
finish

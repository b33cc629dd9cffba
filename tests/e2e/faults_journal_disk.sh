#!/usr/bin/env bash
# tests/e2e/faults_journal_disk.sh — renewd's own disk fills: the journal
# (SQLite) on a 4 MB tmpfs filled up but for 0 KB to 640 KB, one renewal of
# one lab host each time, then the room given back and the renewal run
# again.
#
# What must hold at every size, wherever the journal's write failed:
#  - the run never reports success for a due host it did not renew (exit 0
#    or 10 only when the host was renewed);
#  - a failure names the journal's file, SQLite's error and the free space,
#    and tells the operator to make room (never a bare "disk I/O error");
#  - the job stops at the failed write as a crash there would (no cleanup,
#    no rollback, nothing more changed: the journal no longer says where the
#    job is), so the host holds a live certificate that verifies against the
#    lab CA and matches the live key, and serves the old one or that one
#    (a staged key may be left for the resume);
#  - with the room back, the next run (--force after a failure: past its
#    backoff) finishes the renewal from wherever the journal stopped: DONE,
#    a new certificate served and pinned, no staged or temporary file left;
#    at most one certificate more than one per renewal, and then the
#    possible orphan is reported.
# Then the file system read-only: status and run refuse, saying so.
# SQLite only (a PostgreSQL server's disk is the server's: RD_EIO from it
# takes the same paths, faults_link.sh covers a server that goes away).
# Needs root. Prints "faults_journal_disk: N passed, M failed".
T=faults_journal_disk H=h0001
# shellcheck source=lib/onehost.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib/onehost.sh"

JD=$WORK/jd
mkdir -p "$JD" && mount -t tmpfs -o size=4m renewd-journal "$JD" || { not_ok "mount a tmpfs for the journal"; finish; }
ONEHOST_CLEANUP="umount '$JD'"
JOURNAL=$JD/journal.db

# fill K: leave K KB free on the journal's file system
fill() {
	local avail
	avail=$(df -k --output=avail "$JD" | tail -1)
	rm -f "$JD/filler"
	((avail > $1)) && fallocate -l "$((avail - $1))k" "$JD/filler"
}
headline() { grep -m1 "^host $H" "$WORK/$1.out"; }
newest() { sqlite3 "$JOURNAL" "select state from jobs where host='$H' order by id desc limit 1"; }
# stopped_ok OLD: a live pair that verifies and matches, serving OLD or it
stopped_ok() {
	local served
	rc_pair_ok $H && served=$(rc_served $H) && [[ $served == "$1" || $served == "$(live_fp $H)" ]]
}
renewed_from() { [[ -z $(rc_host_ok $H; rc_pins_ok $H) && $(live_fp $H) != "$1" ]]; }

due $H; run first
check "a first renewal with room (exit 10), got $rc" test "$rc" = 10

kinds=()
for free in 0 16 48 64 80 96 128 160 256 640; do
	due $H; old=$(live_fp $H); i0=$(rc_issued)
	fill "$free"
	run "f$free" --force # past the backoff an earlier size's failure left
	h=$(headline "f$free")
	case $rc in
	10) kind=renewed ;;
	2) kind=open ;;
	*) kind="failed:$(grep -ho 'cannot [a-z]* [a-z]*' "$WORK/f$free.out" | head -1 | tr ' ' _)" ;;
	esac
	kinds+=("$free:$kind")
	if [[ $rc == 10 ]]; then
		check "$free KB free: renewed in full (exit 10)" test "$(live_fp $H)" != "$old"
	else
		check "$free KB free: a failure (exit 1 or 2), never success, got $rc: $h" test "$rc" = 1 -o "$rc" = 2
		check "$free KB free: it names the journal, the free space and the fix" \
			grep -q "journal $JOURNAL: .*the file system holding it has [0-9]* KB free: make room there" \
			"$WORK/f$free.out" "$WORK/f$free.err"
		[[ $rc == 1 ]] && check "$free KB free: the headline says FAILED and why: $h" \
			grep -q "^host $H (posix): FAILED — .*journal $JOURNAL: " <<<"$h"
	fi
	check "$free KB free: a live certificate that verifies and matches its key, served (or the old one)" stopped_ok "$old"
	rm -f "$JD/filler"
	if [[ $rc == 10 ]]; then run "g$free"; else run "g$free" --force; fi
	check "$free KB free, room back: the renewal is finished (exit 0 or 10), got $rc" test "$rc" = 0 -o "$rc" = 10
	check "$free KB free, room back: DONE, got $(newest)" test "$(newest)" = DONE
	check "$free KB free, room back: a new certificate, served, pinned, nothing staged left" renewed_from "$old"
	n=$(($(rc_issued) - i0))
	if ((n == 2)); then
		check "$free KB free: a second certificate only with the orphan reported" \
			grep -q "the CA may hold an orphan certificate" "$WORK/g$free.out"
	else
		check "$free KB free: one certificate, got $n" test "$n" = 1
	fi
done
# the journal's file system read-only (a snapshot, a remount after errors)
due $H; before=$(live_fp $H)
mount -o remount,ro "$JD"
"$RENEWD" status --journal "$JOURNAL" >"$WORK/ro-status.out" 2>&1; rc_st=$?
run ro
mount -o remount,rw "$JD"
check "read-only: status and run refuse (status non-zero, run exit 2), got $rc_st and $rc" test "$rc_st" != 0 -a "$rc" = 2
says_ro() { grep -q "journal $JOURNAL: cannot open: .*: the file system holding it is read-only" "$1"; }
check "read-only: status says the file system is read-only" says_ro "$WORK/ro-status.out"
check "read-only: run says the file system is read-only" says_ro "$WORK/ro.err"
check "read-only: the run changed nothing on the host" test "$(live_fp $H)" = "$before"
echo "what each size met: ${kinds[*]}"
# the sizes reach the journal's open, a job's first write and later writes
check "some runs could not open the journal" grep -q ':open' <<<"${kinds[*]}"
check "some runs failed inside the run (a job's write)" grep -q ':failed' <<<"${kinds[*]}"
finish

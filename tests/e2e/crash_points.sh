#!/usr/bin/env bash
# tests/e2e/crash_points.sh — renewd killed at every point of one renewal.
#
# One lab host, the lab runbook. A reference renewal with RENEWD_CRASH_LOG
# lists every journal commit and every named point it passes
# (orchestrator/base/crashpoint.h). Then, for every commit N and for each
# moment between a remote action and its journal commit — every mutating
# script's answer (key generated, backup made, file moved, ACL set, backups
# pruned, config rewritten, service restarted), the SCEP request handed to
# the transport, the CA's reply before the plugin reads it, the issuer's
# result before it is journaled — renewd runs with RENEWD_CRASH_AT there
# (SIGKILL), then runs again without it. Afterwards:
#   - the host's newest job is DONE and none is left unfinished;
#   - the CA issued exactly one certificate for the renewal, or two when the
#     resend path was taken (a lost reply) and the report says so;
#   - the host serves the renewed certificate, valid, matching its key, and
#     app.conf pins it; no staged file (.renewd-new, .renewd-tmp.*) is left.
# CRASH_POINTS_ONLY=REGEX limits the points (e.g. '^commit:1[0-9]$').
# Needs root. Prints "crash_points: N passed, M failed".
T=crash_points H=h0001
# shellcheck source=lib/onehost.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib/onehost.sh"

# ------------------------------------------------------------- reference
due $H; run prime
[[ $rc == 10 ]] && ok "a first renewal (exit 10)" || { not_ok "a first renewal exits 10, got $rc"; show "$WORK/prime.out" "$WORK/prime.err"; finish; }
due $H; run ref -- RENEWD_CRASH_LOG="$WORK/ref.log"
[[ $rc == 10 ]] && ok "the reference renewal (exit 10)" || { not_ok "the reference renewal exits 10, got $rc"; show "$WORK/ref.err"; finish; }
ncommit=$(grep -c '^commit ' "$WORK/ref.log")
# every commit, every mutating script's answer, the SCEP request sent
# (http.sent/POST) and its reply (the http.reply right after it), the
# issuer's result before its commit
awk '/^commit /{print "commit:" $2; next}
     /^point remote\.changed\//{print "point:" $2 ":" $3; next}
     /^point http\.sent\/POST /{print "point:" $2 ":" $3; post=1; next}
     /^point http\.reply\// && post {print "point:" $2 ":" $3; post=0; next}
     /^point step\.done\/[a-z]*\.issue\.apply /{print "point:" $2 ":" $3}' "$WORK/ref.log" >"$WORK/points"
[[ -n ${CRASH_POINTS_ONLY:-} ]] && { grep -E -- "$CRASH_POINTS_ONLY" "$WORK/points" >"$WORK/points.only" || true; mv "$WORK/points.only" "$WORK/points"; }
npoints=$(wc -l <"$WORK/points")
if ((ncommit >= 20 && npoints >= ncommit)) || [[ -n ${CRASH_POINTS_ONLY:-} ]]; then
	ok "one renewal makes $ncommit journal commits; $npoints crash points to try"
else
	not_ok "the reference log lists $ncommit commits, $npoints points"; show "$WORK/ref.log"; finish
fi

# ------------------------------------------------------------- every point
t0=$SECONDS resends=0
declare -A outcome
while read -r p; do
	due $H
	due_fp=$(live_fp $H)
	issued0=$(rc_issued)
	run crash -- RENEWD_CRASH_AT="$p"
	if ! grep -q '^renewd: crash point: ' "$WORK/crash.err"; then
		not_ok "$p: renewd was not killed there (exit $rc)"; show "$WORK/crash.err"; continue
	fi
	run rerun
	problems=$( {
		[[ $rc == 10 || $rc == 0 ]] || echo "the rerun exits $rc"
		rc_jobs_ok "$JOURNAL" "$H"
		rc_host_ok "$H"
		rc_pins_ok "$H"
		[[ $(live_fp $H) != "$due_fp" ]] ||
			echo "$H: still has the due certificate: not renewed"
		n=$(($(rc_issued) - issued0))
		if ((n == 2)); then
			grep -q 'notice: apply: .*the identical request resent: the CA may hold an orphan certificate' "$WORK/rerun.out" ||
				echo "the CA issued 2 certificates and the report names no resend"
		elif ((n != 1)); then
			echo "the CA issued $n certificates for one renewal"
		fi
	} )
	n=$(($(rc_issued) - issued0))
	how=$(grep -o 'resuming job [0-9]*, interrupted in [A-Z_]*' "$WORK/rerun.out" | sed 's/resuming job [0-9]*, interrupted in/resumed from/' | head -1)
	how=${how:-a new job}
	((n == 2)) && resends=$((resends + 1)) && how+=", identical request resent (reported)"
	outcome[$p]="$how"
	if [[ -z $problems ]]; then
		ok "$p: killed; rerun exit $rc, $how; $n certificate(s); host serves it, key matches, pins, no staged files"
	else
		not_ok "$p: killed; rerun exit $rc, $how"; sed 's/^/     | /' <<<"$problems"; show "$WORK/rerun.out" "$WORK/rerun.err"
	fi
done <"$WORK/points"
ok "$npoints kills in $((SECONDS - t0)) s; the resend path taken $resends time(s)"
finish

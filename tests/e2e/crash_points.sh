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
# The points are shared out among CRASH_POINTS_HOSTS lab hosts (default 4),
# each renewed by its own renewd process with its own journal, so that the
# Nth commit is the same moment on every host; their requests reach the
# lab CA one at a time (lib/caproxy.pl, CAPROXY_SERIAL). CRASH_POINTS_ONLY=REGEX
# limits the points (e.g. '^commit:1[0-9]$').
# RENEWD_TEST_JOURNAL=pg: each host's journal is a database of one private
# PostgreSQL server (lib/journalq.sh).
# Needs root. Prints "crash_points: N passed, M failed".
T=crash_points HOSTS=${CRASH_POINTS_HOSTS:-4}
# shellcheck source=lib/onehost.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib/onehost.sh"
journal_setup # lib/journalq.sh, through lib/renewcheck.sh
mapfile -t NAMES < <(jq -r '.hosts | keys[]' "$LAB_INVENTORY")
# the hosts' renewd processes run side by side: their PKIOperations reach
# the lab CA one at a time, through the proxy (scepserver answers parallel
# ones with badRequest: docs/LAB.md), every answer passed as it is
echo pass >"$WORK/mode"
caproxy_start 127.0.0.2:8084 "$WORK/mode" CAPROXY_SERIAL=1 || { not_ok "the CA proxy does not answer"; show "$WORK/proxy.log"; finish; }
sed -i 's|"url": "http://127.0.0.2:8080/scep"|"url": "http://127.0.0.2:8084/scep"|' "$RB"
grep -q '127.0.0.2:8084' "$RB" || { not_ok "the runbook's CA URL was not rewritten"; finish; }
declare -A HJ # HOST -> its journal
for h in "${NAMES[@]}"; do HJ[$h]=$(journal_new "journal_$h") || { not_ok "$h: a journal"; finish; }; done
# issued HOST: certificates the CA has issued to HOST so far
issued() { grep -c "/CN=$1\$" "$RENEWD_LAB_DIR/ca/depot/index.txt"; }
# hrun HOST NAME [-- VAR=VALUE...]: renewd for HOST alone, on HOST's journal
# (SIGKILL's "Killed" notice from the shell is dropped: it is expected)
hrun() { local h=$1 name=$2; shift 2; (JOURNAL=${HJ[$h]}; run "$name.$h" --host "$h" "$@"; exit "$rc") 2>/dev/null; rc=$?; }

# ------------------------------------------------------------- reference
for h in "${NAMES[@]}"; do (due "$h"; hrun "$h" prime; exit $((rc != 10))) & done
prime_rc=0; for h in "${NAMES[@]}"; do wait -n || prime_rc=1; done
H=${NAMES[0]}
if ((prime_rc == 0)); then ok "a first renewal of each of the ${#NAMES[@]} hosts (exit 10)"; else not_ok "a first renewal of each host exits 10"; show "$WORK"/prime.*.out; finish; fi
due $H; hrun $H ref -- RENEWD_CRASH_LOG="$WORK/ref.log"
[[ $rc == 10 ]] && ok "the reference renewal (exit 10)" || { not_ok "the reference renewal exits 10, got $rc"; show "$WORK/ref.$H.err"; finish; }
ncommit=$(grep -c '^commit ' "$WORK/ref.log")
# every commit, every mutating script's answer, the SCEP request sent
# (http.sent/POST) and its reply (http.reply/POST/CODE: counted among the
# POSTs' replies, so GETs that vary from run to run do not move it), the
# issuer's result before its commit
awk '/^commit /{print "commit:" $2; next}
     /^point remote\.changed\//{print "point:" $2 ":" $3; next}
     /^point http\.sent\/POST /{print "point:" $2 ":" $3; post=1; next}
     /^point http\.reply\/POST\// && post {print "point:" $2 ":" $3; post=0; next}
     /^point step\.done\/[a-z]*\.issue\.apply /{print "point:" $2 ":" $3}' "$WORK/ref.log" >"$WORK/points"
[[ -n ${CRASH_POINTS_ONLY:-} ]] && { grep -E -- "$CRASH_POINTS_ONLY" "$WORK/points" >"$WORK/points.only" || true; mv "$WORK/points.only" "$WORK/points"; }
npoints=$(wc -l <"$WORK/points")
if ((ncommit >= 20 && npoints >= ncommit)) || [[ -n ${CRASH_POINTS_ONLY:-} ]]; then
	ok "one renewal makes $ncommit journal commits; $npoints crash points to try"
else
	not_ok "the reference log lists $ncommit commits, $npoints points"; show "$WORK/ref.log"; finish
fi

# ------------------------------------------------------------- every point
# crash_at HOST POINT: kill renewd there, run again, check; one result line
crash_at() {
	local h=$1 p=$2 due_fp issued0 problems how n id0 st0 id1 st1 J=${HJ[$1]}
	due "$h"
	due_fp=$(live_fp "$h")
	issued0=$(issued "$h")
	hrun "$h" crash -- RENEWD_CRASH_AT="$p"
	if ! grep -q '^renewd: crash point: ' "$WORK/crash.$h.err"; then
		echo "FAIL - $p: renewd was not killed there (exit $rc)"; show "$WORK/crash.$h.err"; return
	fi
	IFS='|' read -r id0 st0 <<<"$(jsql_at "$J" "select id, state from jobs where host = '$h' order by id desc limit 1")"
	hrun "$h" rerun
	n=$(($(issued "$h") - issued0))
	problems=$( {
		[[ $rc == 10 || $rc == 0 ]] || echo "the rerun exits $rc"
		rc_jobs_ok "$J" "$h"
		rc_host_ok "$h"
		rc_pins_ok "$h"
		[[ $(live_fp "$h") != "$due_fp" ]] || echo "$h: still has the due certificate: not renewed"
		if ((n == 2)); then
			grep -q 'notice: apply: .*the identical request resent: the CA may hold an orphan certificate' "$WORK/rerun.$h.out" ||
				echo "the CA issued 2 certificates and the report names no resend"
		elif ((n != 1)); then
			echo "the CA issued $n certificates for one renewal"
		fi
	} )
	# what the rerun found: the crash run's job (newest before the rerun) is
	# the one it went on with, or it opened a new one
	IFS='|' read -r id1 st1 <<<"$(jsql_at "$J" "select id, state from jobs where host = '$h' order by id desc limit 1")"
	if [[ $id1 != "$id0" ]]; then how="a new job"
	elif [[ $st0 == DONE ]]; then how="nothing left to do (the job was DONE)"
	else how="resumed job from $st0"; fi
	((n == 2)) && how+=", identical request resent (reported)"
	if [[ -z $problems ]]; then
		echo "ok   - $p ($h): killed; rerun exit $rc, $how; $n certificate(s); host serves it, key matches, pins, no staged files"
	else
		echo "FAIL - $p ($h): killed; rerun exit $rc, $how"; sed 's/^/     | /' <<<"$problems"; show "$WORK/rerun.$h.out" "$WORK/rerun.$h.err"
	fi
}
t0=$SECONDS
for i in "${!NAMES[@]}"; do
	awk -v n=${#NAMES[@]} -v i="$i" '(NR - 1) % n == i' "$WORK/points" | while read -r p; do
		crash_at "${NAMES[$i]}" "$p" </dev/null
	done >"$WORK/results.$i" &
done
wait
for i in "${!NAMES[@]}"; do cat "$WORK/results.$i"; done
pass=$((pass + $(cat "$WORK"/results.* | grep -c '^ok   - '))) fail=$((fail + $(cat "$WORK"/results.* | grep -c '^FAIL - ')))
resends=$(cat "$WORK"/results.* | grep -c 'identical request resent')
nres=$(cat "$WORK"/results.* | grep -cE '^(ok|FAIL) +- ')
((nres == npoints)) || not_ok "$nres results for $npoints points"
ok "$npoints kills on ${#NAMES[@]} hosts in $((SECONDS - t0)) s; the resend path taken $resends time(s), each reported"
finish

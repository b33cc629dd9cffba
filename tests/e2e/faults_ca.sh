#!/usr/bin/env bash
# tests/e2e/faults_ca.sh — a CA that refuses, fails, is slow or drops the
# reply; one lab host, the lab runbook.
#
# A proxy (tests/e2e/lib/caproxy.pl) in front of the lab CA passes the
# GetCACaps/GetCACert requests and does to each PKIOperation what its mode
# file says. For each fault: what the run ends with, what the CA issued, and
# that the host still serves its old certificate, valid and matching its
# key; then the fault is gone and the next run finishes the renewal.
#  1. refused: nothing listens at the CA's address — the pre-flight's
#     GetCACaps fails, no request, no journal job, old certificate served.
#  2. 503 on the request — the job ends FAILED naming HTTP 503 and the
#     CA's text, nothing
#     issued, old certificate served; with the CA back the next run renews
#     (one certificate).
#  3. dropped after reading the request (the CA issued, the reply is lost) —
#     the job waits at the CA (PENDING_CA, the journaled request and its
#     staged key kept, the old certificate served, exit 0); the
#     next run resumes the journaled transaction, polls, resends the
#     identical request (scepserver cannot poll) and reports the possible
#     orphan: two certificates, the second installed.
#  4. slow (the reply 3 s late) — renewed, one certificate.
#  5. a certificate from a foreign CA ("not issued by this CA") — PKCSReq
#     with the challenge, renewed, one certificate.
#  6. PENDING then issued: the proxy as a CA double (lib/scepdouble.c) keeps
#     the CA's answer and says PENDING, and PENDING again to the first poll —
#     the job waits (PENDING_CA, exit 0) and the next runs poll; the kept
#     answer to the next poll is installed: one certificate, no resend.
#  7. the issue step's timer fires while the CA holds the request (a CA
#     slower than the step's timeout) — the job waits at the CA
#     (PENDING_CA, the journaled request and staged key kept); the next run
#     resumes the transaction (CertPoll: scepserver cannot, so the identical
#     request is resent) and reports the possible orphan.
#  8. the host re-enrolled by an operator (a new key) while a request waits
#     at the CA: the next run cannot sign the poll with the key that signed
#     the request, says so (the request abandoned, what to do at the CA),
#     changes nothing on the host and sends nothing; the run after that
#     starts from the operator's certificate.
# RENEWD_TEST_JOURNAL=pg: the journal on PostgreSQL (lib/journalq.sh).
# Needs root. Prints "faults_ca: N passed, M failed".
T=faults_ca H=h0001
# shellcheck source=lib/onehost.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib/onehost.sh"
journal_setup # lib/journalq.sh, through lib/renewcheck.sh

PROXY=127.0.0.2:8083
cc -std=c11 -O1 -o "$WORK/scepdouble" "$E2E/lib/scepdouble.c" -lcrypto || { not_ok "build lib/scepdouble.c"; finish; }
caproxy_start "$PROXY" "$WORK/mode" \
	CAPROXY_DOUBLE="$WORK/scepdouble $RENEWD_LAB_DIR/ca/depot/ca.pem $RENEWD_LAB_DIR/ca/depot/ca.key"
sed "s|\"url\": \"http://127.0.0.2:8080/scep\"|\"url\": \"http://$PROXY/scep\"|" "$RB" >"$WORK/proxied.json"
sed "s|\"url\": \"http://127.0.0.2:8080/scep\"|\"url\": \"http://127.0.0.2:8089/scep\"|" "$RB" >"$WORK/refused.json"
# the issue step's timeout is 3 x command_timeout: 12 s
sed 's|"command_timeout": "2m"|"command_timeout": "4s"|' "$WORK/proxied.json" >"$WORK/short.json"
mode() { echo "$1" >"$WORK/mode"; }
state() { jnewest "$H"; }
jobs() { if journal_made; then jsql "select count(*) from jobs where host='$H'"; else echo 0; fi; }
jobs_since() { jsql "select count(*) from jobs where host='$H' and id > $1"; }
# unchanged HOST FP: the host still has and serves the certificate FP
unchanged() {
	local out
	out=$(rc_host_ok "$H"; [[ $(live_fp "$H") == "$2" ]] || echo "$H: the live certificate changed")
	[[ -z $out ]] || { sed 's/^/     | /' <<<"$out"; return 1; }
}
renewed() { # renewed OLD_FP: DONE, a new certificate, served, pinned
	local out
	out=$(rc_jobs_ok "$JOURNAL" "$H"; rc_host_ok "$H"; rc_pins_ok "$H"
		[[ $(live_fp "$H") != "$1" ]] || echo "$H: still the old certificate")
	[[ -z $out ]] || { sed 's/^/     | /' <<<"$out"; return 1; }
}

# waiting WHAT: the job waits at the CA: PENDING_CA, the old certificate
# live and served, the new key staged for the pending request
waiting() {
	check "$1: the job waits at the CA (PENDING_CA), got $(state)" test "$(state)" = PENDING_CA
	check "$1: the old certificate is live and served" test "$(live_fp $H)/$(rc_served $H)" = "$old/$old"
	check "$1: the new key stays staged for the pending request" \
		test -s "$RENEWD_LAB_DIR/hosts/$H/root/tls/server.key.renewd-new"
}
# resent WHAT RUN: the CA issued (and the reply was lost); the next run RUN
# resends the journaled request, reports the possible orphan and renews
resent() {
	check "$1: the CA issued a certificate nobody received" test "$(($(rc_issued) - issued0))" = 1
	mode pass; RB=$WORK/proxied.json run "$2"
	check "$1: the next run renews (exit 10), got $rc" test "$rc" = 10
	check "$1: it resent the identical journaled request and says the CA may hold an orphan" \
		grep -q "notice: apply: .*the identical request resent: the CA may hold an orphan certificate" "$WORK/$2.out"
	check "$1: renewed, served, pinned" renewed "$old"
	check "$1: two certificates, the orphan reported" test "$(($(rc_issued) - issued0))" = 2
}

# ------------------------------------------------------------- 1. refused
due $H; old=$(live_fp $H); issued0=$(rc_issued); jobs0=$(jobs)
RB=$WORK/refused.json run refused
check "refused: the run fails (exit 1), got $rc" test "$rc" = 1
check "refused: the report names the CA and the refusal" grep -q "CA http://127.0.0.2:8089/scep: GetCACaps failed: .*refused" "$WORK/refused.out"
check "refused: stopped in the pre-flight: no journal job, no backoff" test "$(jobs)" = "$jobs0"
check "refused: nothing issued" test "$(rc_issued)" = "$issued0"
check "refused: the old certificate is intact and served" unchanged "$H" "$old"
mode pass; RB=$WORK/proxied.json run refused-after
check "refused: the CA back, the next run renews (exit 10), got $rc" test "$rc" = 10
check "refused: renewed, served, pinned" renewed "$old"
check "refused: one certificate" test "$(($(rc_issued) - issued0))" = 1

# ------------------------------------------------------------- 2. 503
due $H; old=$(live_fp $H); issued0=$(rc_issued)
mode 503; RB=$WORK/proxied.json run 503
check "503: the run fails (exit 1), got $rc" test "$rc" = 1
check "503: the report names HTTP 503 and the CA's text" grep -q "CA http://$PROXY/scep: PKIOperation failed: HTTP 503: try later" "$WORK/503.out"
check "503: the job ended FAILED, got $(state)" test "$(state)" = FAILED
check "503: nothing issued" test "$(rc_issued)" = "$issued0"
check "503: the old certificate is intact and served" unchanged "$H" "$old"
mode pass; RB=$WORK/proxied.json run 503-after --force
check "503: the CA back, the next run renews (exit 10), got $rc" test "$rc" = 10
check "503: renewed, served, pinned" renewed "$old"
n=$(($(rc_issued) - issued0))
check "503: one certificate ($n)" test "$n" = 1

# ------------------------------------------------------------- 3. dropped
due $H; old=$(live_fp $H); issued0=$(rc_issued)
mode drop; RB=$WORK/proxied.json run drop
check "dropped: the run ends as a job pending at the CA does (exit 0), got $rc" test "$rc" = 0
check "dropped: the report says the request may have reached the CA" \
	grep -q "PKIOperation: network error, no answer: the request may have reached the CA; the next run polls it (never a new request)" "$WORK/drop.out"
waiting dropped
resent dropped drop-after

# ------------------------------------------------------------- 4. slow
due $H; old=$(live_fp $H); issued0=$(rc_issued)
mode slow:3; t0=$SECONDS; RB=$WORK/proxied.json run slow
check "slow: renewed (exit 10), got $rc" test "$rc" = 10
check "slow: the run waited for the reply ($((SECONDS - t0)) s)" test $((SECONDS - t0)) -ge 3
check "slow: renewed, served, pinned" renewed "$old"
check "slow: one certificate" test "$(($(rc_issued) - issued0))" = 1

# ------------------------------------------------------------- 5. foreign
"$LAB" cert $H --foreign --days 2 </dev/null >/dev/null; old=$(live_fp $H); issued0=$(rc_issued)
mode pass; RB=$WORK/proxied.json run foreign
check "foreign: renewed (exit 10), got $rc" test "$rc" = 10
check "foreign: PKCSReq with the challenge, the current certificate not from this CA" \
	grep -q "PKCSReq with the challenge password: the current certificate was not issued by this CA" "$WORK/foreign.out"
check "foreign: renewed, served, pinned, from the lab CA" renewed "$old"
check "foreign: one certificate" test "$(($(rc_issued) - issued0))" = 1

# ------------------------------------------------------------- 6. PENDING, then issued
due $H; old=$(live_fp $H); issued0=$(rc_issued); pend_job0=$(jsql "select max(id) from jobs")
mode pend; RB=$WORK/proxied.json run pend
check "pending: the run ends as a job pending at the CA does (exit 0), got $rc" test "$rc" = 0
check "pending: the report says so" grep -q "is pending approval; renewd will poll it (never resubmit)" "$WORK/pend.out"
waiting pending
RB=$WORK/proxied.json run pend-poll1
check "pending: the next run polls and is told PENDING again (exit 0), got $rc" test "$rc" = 0
check "pending: still PENDING_CA, got $(state)" test "$(state)" = PENDING_CA
mode pass; RB=$WORK/proxied.json run pend-poll2
check "pending: the poll after that gets the certificate, installed (exit 10), got $rc" test "$rc" = 10
check "pending: renewed, served, pinned" renewed "$old"
check "pending: one certificate" test "$(($(rc_issued) - issued0))" = 1
check "pending: one job, resumed (no new request, no resend)" \
	test "$(jobs_since "$pend_job0")/$(cat "$WORK"/pend*.out | grep -c 'orphan')" = "1/0"
check "pending: the double pended the request and the first poll, answered the second" \
	test "$(tr '\n' ' ' <"$WORK/mode.double")" = "request pending poll pending poll answered "

# ------------------------------------------------------------- 7. the step times out at the CA
due $H; old=$(live_fp $H); issued0=$(rc_issued)
mode slow:15; RB=$WORK/short.json run tmo
check "timeout: the run ends as a job pending at the CA does (exit 0), got $rc" test "$rc" = 0
check "timeout: the report names the timeout and the wait" \
	grep -q "apply timed out after 12000 ms; the request may have reached the CA: the next run polls it (never a new request)" "$WORK/tmo.out"
waiting timeout
resent timeout tmo-after

# ------------------------------------------------------------- 8. re-enrolled while PENDING
due $H; old=$(live_fp $H); issued0=$(rc_issued)
mode pend; RB=$WORK/proxied.json run repl
check "re-enrolled: the request waits at the CA (exit 0), got $rc" test "$rc" = 0
waiting re-enrolled
"$LAB" cert $H --fresh </dev/null >/dev/null; fresh=$(live_fp $H) # an operator's own renewal: a new key
asked=$(wc -l <"$WORK/mode.double")
RB=$WORK/proxied.json run repl-poll
check "re-enrolled: the poll cannot be signed, the job fails (exit 1), got $rc" test "$rc" = 1
check "re-enrolled: FAILED, got $(state)" test "$(state)" = FAILED
check "re-enrolled: the report names the request, the replaced key and what to do at the CA" \
	grep -q "issue: apply: .*request [0-9a-f]*: the key at /srv/renewd-lab/tls/server.key is no longer the one that signed it (replaced since the request was sent?), so it cannot be polled: the request is abandoned and its staged key removed; the CA may still issue it: reject it there" "$WORK/repl-poll.out"
check "re-enrolled: nothing sent to the CA" test "$(wc -l <"$WORK/mode.double")" = "$asked"
check "re-enrolled: the operator's certificate is intact and served" unchanged "$H" "$fresh"
check "re-enrolled: the staged key is removed" test ! -e "$RENEWD_LAB_DIR/hosts/$H/root/tls/server.key.renewd-new"
RB=$WORK/proxied.json run repl-after
check "re-enrolled: the next run starts from the new certificate: nothing due (exit 0), got $rc" \
	grep -q "NOT_DUE" "$WORK/repl-after.out"
check "re-enrolled: no certificate from renewd but the one the CA held for the pending request" \
	test "$(($(rc_issued) - issued0))" = 1

check "the proxy saw each mode" test "$(sort -u "$WORK/mode.log" | tr '\n' ' ')" = "503 drop pass pend slow:15 slow:3 "
finish

#!/usr/bin/env bash
# tests/e2e/renewal.sh — real renewals of a 5-host lab through the real SCEP CA.
#
#  1. `renewd plan` changes nothing: every file of every host's tree and of the
#     CA depot has the same checksum before and after; every step is listed
#     with its old -> new values; exit 10.
#  2. `renewd run` renews all 5 (exit 10): each new certificate is issued by the
#     lab CA with a new serial and a new key, same subject and SANs; the TLS
#     service serves it; app.conf pins the new SHA-1 and serial; the journal
#     says DONE. A second run renews nothing (exit 0).
#  3. A verification failure (the service keeps serving the old file) ends
#     ROLLED_BACK with the old certificate, key and config live and served.
#  4. An expired certificate is re-enrolled with the challenge (PKCSReq);
#     without a challenge the job ends NEEDS_OPERATOR with what to do.
#  5. `renewd remediate` finds a wrong key mode and a service not serving the
#     live certificate, changes nothing with --whatif, then repairs both.
#  7. renewd killed mid-renewal: the next run resumes the job from the journal
#     and finishes it without a second request to the CA.
#  8. A follow-up whose probe finds it cannot succeed (app.conf without the
#     thumbprint) stops the job before the CA is contacted: no certificate,
#     no change, no backoff; fixed, the next run renews.
#  6. No private key of any host appears in the journal, renewd's output, the
#     plaintext of every remote script (RENEWD_TRACE_REMOTE) or a capture of
#     all lab traffic.
#  9. A lost reply: renewd killed while the CA's answer to its RenewalReq is
#     held by a proxy; the resumed job polls, the CA cannot (scepserver), so
#     the identical journaled message is resent, the job finishes, and the
#     report says the CA may hold an orphan certificate.
# RENEWD_TEST_JOURNAL=pg runs it all on a PostgreSQL journal (a private
# server, tests/e2e/lib/journalq.sh) instead of an SQLite file.
# Needs root. Prints "renewal: N passed, M failed".
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
LAB=$ROOT/contrib/lab/lab
RENEWD=${RENEWD_BIN:-$ROOT/build/renewd}
export RENEWD_PLUGINS=${RENEWD_PLUGINS:-$(dirname "$RENEWD")/plugins}
export RENEWD_LAB_DIR=${RENEWAL_LAB_DIR:-/var/lib/renewd-lab-renewal}
export RENEWD_LAB_NETNS=${RENEWAL_LAB_NETNS:-renewd-lab-ren}
HOSTS=(h0001 h0002 h0003 h0004 h0005)

pass=0 fail=0
ok()     { pass=$((pass + 1)); printf 'ok   - %s\n' "$*"; }
not_ok() { fail=$((fail + 1)); printf 'FAIL - %s\n' "$*"; }
check()  { local d=$1; shift; if "$@"; then ok "$d"; else not_ok "$d"; fi; }
finish() { printf 'renewal: %d passed, %d failed\n' "$pass" "$fail"; ((fail == 0)); }

[[ $(id -u) == 0 ]] || { echo "renewal: SKIP: needs root (network namespaces, sshd)"; exit 77; }
[[ -x $RENEWD ]] || { echo "renewal: $RENEWD not built (set RENEWD_BIN)" >&2; exit 2; }

WORK=$(mktemp -d /tmp/renewal.XXXXXX)
cleanup() {
	local rc=$?
	[[ -n ${CAP_PID:-} ]] && kill "$CAP_PID" 2>/dev/null || true
	"$LAB" down --purge >/dev/null 2>&1 || true
	if ((rc != 0)) && [[ -z ${KEEP_WORK:-} ]]; then :; fi
	[[ -n ${KEEP_WORK:-} ]] && echo "renewal: kept $WORK" >&2 || rm -rf "$WORK"
	exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

"$LAB" down --purge >/dev/null 2>&1 || true
if ! "$LAB" up --hosts ${#HOSTS[@]} >"$WORK/up.log" 2>&1; then
	not_ok "lab up"; sed 's/^/    /' "$WORK/up.log"; finish; exit 1
fi
# shellcheck disable=SC1091
. "$RENEWD_LAB_DIR/lab.env"
JOURNAL=$WORK/journal.db
# shellcheck source=lib/journalq.sh
. "$HERE/lib/journalq.sh"
journal_setup
export RENEWD_TRACE_REMOTE=$WORK/trace.jsonl

# runbooks: the shipped one pointed at this lab, and two variants
sed "s|/var/lib/renewd-lab/|$RENEWD_LAB_DIR/|g" "$ROOT/runbooks/lab-posix-scep.json" >"$WORK/lab.json"
sed 's|"command": "/srv/renewd-lab/bin/tlsctl reload"|"command": "true"|' "$WORK/lab.json" >"$WORK/noreload.json"
# the same with an operator hook (posix.exec) that records what it is told
cat >"$WORK/hook.sh" <<'HOOK'
[ "$1" = apply ] && printf '%s %s %s\n' "$RENEWD_HOST" "$RENEWD_OLD_SHA1" "$RENEWD_NEW_SHA1" >/srv/renewd-lab/hook.out
true
HOOK
sed "s|\"steps\": \[|\"steps\": [{\"type\": \"posix.exec\", \"name\": \"hook\", \"params\": {\"file\": \"$WORK/hook.sh\"}},|" \
	"$WORK/lab.json" >"$WORK/hook.json"
grep -v '"challenge":' "$WORK/lab.json" | sed 's|"ca_fingerprint": \({[^}]*}\),|"ca_fingerprint": \1|' >"$WORK/nochallenge.json"
check "test runbooks validate" "$RENEWD" validate "$WORK/lab.json" "$WORK/noreload.json" "$WORK/nochallenge.json" "$WORK/hook.json"

rd() { # rd LOGNAME ARGS... : renewd inside the lab netns; exit status in $rc
	local name=$1; shift
	rc=0
	"$LAB" exec -- "$RENEWD" "$@" --journal "$JOURNAL" >"$WORK/$name.out" 2>"$WORK/$name.err" || rc=$?
	cat "$WORK/$name.out" "$WORK/$name.err" >>"$WORK/all-output.txt"
}
on() { "$LAB" ssh "$1" "${@:2}"; }
crt() { on "$1" 'cat /srv/renewd-lab/tls/server.crt'; }
fp() { openssl x509 -noout -fingerprint -sha256 | cut -d= -f2 | tr -d : | tr A-F a-f; }
served() { # sha256 of the certificate HOST serves on 443
	local addr
	addr=$(sed -n "s/.*\"$1\": {\"address\": \"\([0-9.]*\)\".*/\1/p" "$LAB_INVENTORY")
	"$LAB" exec -- openssl s_client -connect "$addr:443" </dev/null 2>/dev/null | fp
}
tree_sums() { find "$RENEWD_LAB_DIR"/hosts/*/root "$RENEWD_LAB_DIR/ca/depot" -type f -print0 | sort -z | xargs -0 sha256sum; }
state_of() { jnewest "$1"; }
keys_now() { for h in "${HOSTS[@]}"; do on "$h" 'sudo -n cat /srv/renewd-lab/tls/server.key; for k in /srv/renewd-lab/tls/server.key.renewd-*; do [ -f "$k" ] && sudo -n cat "$k"; done; true'; done >>"$WORK/keys.pem"; }

# capture all lab traffic for the key-material check (plain HTTP to the CA included)
if command -v tcpdump >/dev/null; then
	"$LAB" exec -- tcpdump -i lo -w "$WORK/lab.pcap" -U -s 0 >/dev/null 2>&1 &
	CAP_PID=$!
fi

keys_now
declare -A OLD_FP OLD_SERIAL OLD_SUBJ OLD_PUB
for h in "${HOSTS[@]}"; do
	c=$(crt "$h")
	OLD_FP[$h]=$(fp <<<"$c")
	OLD_SERIAL[$h]=$(openssl x509 -noout -serial <<<"$c")
	OLD_SUBJ[$h]=$(openssl x509 -noout -subject -ext subjectAltName <<<"$c" 2>/dev/null)
	OLD_PUB[$h]=$(openssl x509 -noout -pubkey <<<"$c" | sha256sum)
done

# ------------------------------------------------------------- 1. plan
tree_sums >"$WORK/before.sums"
rd plan plan "$WORK/lab.json"
check "plan exits 10 (something would be renewed), got $rc" test "$rc" = 10
tree_sums >"$WORK/after.sums"
check "plan changed no file on any host nor in the CA depot ($(wc -l <"$WORK/before.sums") files)" \
	cmp -s "$WORK/before.sums" "$WORK/after.sums"
check "plan says every host would renew" test "$(grep -c 'WOULD_RENEW' "$WORK/plan.out")" = ${#HOSTS[@]}
for step in inventory issue install "key ACL" "prune backups" "app.conf sha1" "app.conf serial" "reload TLS server" "TLS check"; do
	check "plan lists step '$step' for every host" test "$(grep -c "^  $step " "$WORK/plan.out")" = ${#HOSTS[@]}
done
check "plan shows old -> new values" grep -q "sha1 in /srv/renewd-lab/etc/app.conf (1 occurrence): ${OLD_FP[h0001]:0:0}[0-9a-f]* -> (new certificate)" "$WORK/plan.out"
rd plan-scripts plan "$WORK/lab.json" --host h0001 --show-scripts
check "--show-scripts prints the read-only probe scripts with parameters" grep -q -- '--- host h0001: script posix.inventory.read (read-only) ---' "$WORK/plan-scripts.out"
check "--show-scripts printed no mutating script" bash -c "! grep -q '(mutating)' '$WORK/plan-scripts.out'"

# ------------------------------------------------------------- 2. run
rd run1 run "$WORK/lab.json"
check "run exits 10 (renewed), got $rc" test "$rc" = 10
check "run renewed all ${#HOSTS[@]}" grep -q "run: ${#HOSTS[@]} targets, ${#HOSTS[@]} due, ${#HOSTS[@]} renewed, 0 failed" "$WORK/run1.out"
keys_now
declare -A NEW_FP
for h in "${HOSTS[@]}"; do
	c=$(crt "$h")
	NEW_FP[$h]=$(fp <<<"$c")
	check "$h: new certificate verifies against the lab CA" bash -c "openssl verify -CAfile '$LAB_CA_CERT' <<<'$c' >/dev/null"
	check "$h: new serial" test "$(openssl x509 -noout -serial <<<"$c")" != "${OLD_SERIAL[$h]}"
	check "$h: new key" test "$(openssl x509 -noout -pubkey <<<"$c" | sha256sum)" != "${OLD_PUB[$h]}"
	check "$h: same subject and SANs" test "$(openssl x509 -noout -subject -ext subjectAltName <<<"$c" 2>/dev/null)" = "${OLD_SUBJ[$h]}"
	check "$h: live key matches the new certificate" test \
		"$(on "$h" 'sudo -n openssl pkey -in /srv/renewd-lab/tls/server.key -pubout' | sha256sum)" = "$(openssl x509 -noout -pubkey <<<"$c" | sha256sum)"
	check "$h: TLS service serves the new certificate" test "$(served "$h")" = "${NEW_FP[$h]}"
	sha1=$(openssl x509 -noout -fingerprint -sha1 <<<"$c" | cut -d= -f2 | tr -d : | tr A-F a-f)
	check "$h: app.conf pins the new SHA-1" bash -c "'$LAB' ssh $h 'cat /srv/renewd-lab/etc/app.conf' | grep -q '$sha1'"
	check "$h: journal says DONE" test "$(state_of "$h")" = DONE
	check "$h: old certificate kept as a dated backup" bash -c "'$LAB' ssh $h 'ls /srv/renewd-lab/tls/' | grep -q 'server.crt.renewd-2'"
done
check "the ${#HOSTS[@]} new serials are distinct (one request at a time to the CA)" \
	test "$(for h in "${HOSTS[@]}"; do crt "$h" | openssl x509 -noout -serial; done | sort -u | wc -l)" = ${#HOSTS[@]}
check "the journal holds an inventory snapshot of every host" \
	test "$(jsql 'select count(distinct host) from inventory')" = ${#HOSTS[@]}
rd run2 run "$WORK/lab.json"
check "second run renews nothing (exit 0), got $rc" test "$rc" = 0

# ------------------------------------------------------------- 3. rollback
"$LAB" cert h0001 --due >/dev/null
due_fp=$(crt h0001 | fp)
due_conf=$(on h0001 'cat /srv/renewd-lab/etc/app.conf')
keys_now
rd rollback run "$WORK/noreload.json" --host h0001
check "verification failure exits 1, got $rc" test "$rc" = 1
check "h0001: journal says ROLLED_BACK" test "$(state_of h0001)" = ROLLED_BACK
check "h0001: the old certificate is live again" test "$(crt h0001 | fp)" = "$due_fp"
check "h0001: and served" test "$(served h0001)" = "$due_fp"
check "h0001: app.conf restored" test "$(on h0001 'cat /srv/renewd-lab/etc/app.conf')" = "$due_conf"
check "h0001: old key matches the live certificate" test \
	"$(on h0001 'sudo -n openssl pkey -in /srv/renewd-lab/tls/server.key -pubout' | sha256sum)" = "$(crt h0001 | openssl x509 -noout -pubkey | sha256sum)"
check "rollback reason names the TLS check" grep -q "TLS check: verify" "$WORK/rollback.out"

# ------------------------------------------------------------- 4. expired
"$LAB" cert h0002 --expired >/dev/null
keys_now
exp_sha1=$(crt h0002 | openssl x509 -noout -fingerprint -sha1 | cut -d= -f2 | tr -d : | tr A-F a-f)
rd expired run "$WORK/hook.json" --host h0002
check "expired certificate with a challenge: re-enrolled (exit 10), got $rc" test "$rc" = 10
check "h0002: journal says DONE" test "$(state_of h0002)" = DONE
check "h0002: the report says PKCSReq" grep -q "PKCSReq" "$WORK/expired.out"
new_sha1=$(crt h0002 | openssl x509 -noout -fingerprint -sha1 | cut -d= -f2 | tr -d : | tr A-F a-f)
check "h0002: the posix.exec hook ran on the target with the job's facts" \
	test "$(on h0002 'cat /srv/renewd-lab/hook.out')" = "h0002 $exp_sha1 $new_sha1"
check "h0002: the new certificate is valid now" bash -c "'$LAB' ssh h0002 'openssl x509 -in /srv/renewd-lab/tls/server.crt -noout -checkend 86400' >/dev/null"
"$LAB" cert h0003 --expired >/dev/null
exp_fp=$(crt h0003 | fp)
rd operator run "$WORK/nochallenge.json" --host h0003
check "expired certificate without a challenge exits 1, got $rc" test "$rc" = 1
check "h0003: journal says NEEDS_OPERATOR" test "$(state_of h0003)" = NEEDS_OPERATOR
check "h0003: the explanation says to add a challenge" grep -q 'has expired.*issuer.challenge' "$WORK/operator.out"
check "h0003: nothing was changed" test "$(crt h0003 | fp)" = "$exp_fp"

# ------------------------------------------------------------- 5. remediate
on h0004 'sudo -n chmod 0644 /srv/renewd-lab/tls/server.key'
"$LAB" cert h0005 --fresh --no-reload >/dev/null
keys_now
tree_sums >"$WORK/before.sums"
rd rem-plan remediate --runbook "$WORK/lab.json" --host h0004 --host h0005 --whatif
check "remediate --whatif exits 10 (something to fix), got $rc" test "$rc" = 10
check "remediate --whatif finds the key mode" grep -q 'finding: key ACL: h0004: /srv/renewd-lab/tls/server.key' "$WORK/rem-plan.out"
check "remediate --whatif finds the service not serving the live certificate" grep -q 'finding: TLS check: h0005: .* serves sha256 [0-9a-f]*, expected sha256' "$WORK/rem-plan.out"
tree_sums >"$WORK/after.sums"
check "remediate --whatif changed nothing" cmp -s "$WORK/before.sums" "$WORK/after.sums"
rd rem-fix remediate --runbook "$WORK/lab.json" --host h0004 --host h0005
check "remediate exits 10 (fixed), got $rc" test "$rc" = 10
check "remediate repaired both" test "$(grep -c 'REPAIRED' "$WORK/rem-fix.out")" = 2
check "h0004: key mode is 0600 again" test "$(on h0004 'stat -c %a /srv/renewd-lab/tls/server.key')" = 600
check "h0005: the live certificate is served" test "$(served h0005)" = "$(crt h0005 | fp)"
rd rem-again remediate --runbook "$WORK/lab.json" --host h0004 --host h0005 --whatif
check "a second diagnosis finds nothing (exit 0), got $rc" test "$rc" = 0

# ------------------------------------------------------------- 7. crash and resume
# renewd is SIGKILLed while a follow-up runs (the new certificate is already
# live); the next run continues the journal's job instead of skipping a
# certificate that no longer looks due, and never sends a second request.
cat >"$WORK/slow.sh" <<'HOOK'
[ "$1" = apply ] && sleep 30
true
HOOK
sed "s|\"steps\": \[|\"steps\": [{\"type\": \"posix.exec\", \"name\": \"slow hook\", \"params\": {\"file\": \"$WORK/slow.sh\"}, \"timeout\": \"60s\"},|" \
	"$WORK/lab.json" >"$WORK/slow.json"
sed 's|"name": "slow hook", "params": {"file": "[^"]*"}|"name": "slow hook", "params": {"script": "true"}|' "$WORK/slow.json" >"$WORK/fast.json"
"$LAB" cert h0004 --due >/dev/null
keys_now
issued0=$(wc -l <"$RENEWD_LAB_DIR/ca/depot/index.txt")
"$LAB" exec -- "$RENEWD" run "$WORK/slow.json" --host h0004 --journal "$JOURNAL" >"$WORK/crash.out" 2>&1 &
crash_pid=$!
crashed=0
for _ in $(seq 1 80); do
	if [ "$(state_of h0004)" = FOLLOWUPS ] && "$LAB" exec -- pgrep -f 'sleep 30' >/dev/null; then
		"$LAB" exec -- pkill -9 -f "renewd run $WORK/slow.json" && crashed=1
		break
	fi
	sleep 0.25
done
wait "$crash_pid" 2>/dev/null || true
check "renewd was killed in FOLLOWUPS" test "$crashed" = 1
check "the journal still has the job in FOLLOWUPS" test "$(state_of h0004)" = FOLLOWUPS
rd resume run "$WORK/fast.json" --host h0004
check "the next run resumes it (exit 10), got $rc" test "$rc" = 10
check "the report says so" grep -q "resuming job [0-9]*, interrupted in FOLLOWUPS" "$WORK/resume.out"
check "h0004: journal says DONE" test "$(state_of h0004)" = DONE
check "the CA issued exactly one certificate for it" test "$(($(wc -l <"$RENEWD_LAB_DIR/ca/depot/index.txt") - issued0))" = 1
c=$(crt h0004)
sha1=$(openssl x509 -noout -fingerprint -sha1 <<<"$c" | cut -d= -f2 | tr -d : | tr A-F a-f)
check "h0004: app.conf pins the new certificate" bash -c "'$LAB' ssh h0004 'cat /srv/renewd-lab/etc/app.conf' | grep -q 'cert_sha1 = $sha1'"
check "h0004: and it is served" test "$(served h0004)" = "$(fp <<<"$c")"
keys_now

# ------------------------------------------------------------- 8. blocked before the CA
# app.conf pins the thumbprint in a form the step cannot find: every probe
# runs before the request, so the job stops before the CA is contacted (no
# certificate spent, nothing changed, no journal job and so no backoff), and
# once app.conf is fixed the next run renews without --force.
"$LAB" cert h0005 --due >/dev/null
conf=$RENEWD_LAB_DIR/hosts/h0005/root/etc/app.conf
good_conf=$(<"$conf")
sed -i 's/^cert_sha1 = .*/cert_sha1 = (pinned elsewhere)/' "$conf"
keys_now
issued0=$(wc -l <"$RENEWD_LAB_DIR/ca/depot/index.txt")
jobs0=$(jsql "select count(*) from jobs where host='h0005'")
tree_sums >"$WORK/before.sums"
rd blocked run "$WORK/lab.json" --host h0005
check "a follow-up that cannot succeed stops the run (exit 1), got $rc" test "$rc" = 1
check "the report names that probe and its cause" \
	grep -q "h0005 (posix): FAILED — app.conf sha1: probe: h0005: config /srv/renewd-lab/etc/app.conf" "$WORK/blocked.out"
check "the CA was not contacted: no certificate issued" test "$(wc -l <"$RENEWD_LAB_DIR/ca/depot/index.txt")" = "$issued0"
tree_sums >"$WORK/after.sums"
check "nothing changed on any host nor in the CA depot" cmp -s "$WORK/before.sums" "$WORK/after.sums"
check "no journal job was opened (so no backoff)" \
	test "$(jsql "select count(*) from jobs where host='h0005'")" = "$jobs0"
printf '%s\n' "$good_conf" >"$conf"
rd unblocked run "$WORK/lab.json" --host h0005
check "once app.conf is fixed the next run renews without --force (exit 10), got $rc" test "$rc" = 10
check "h0005: journal says DONE" test "$(state_of h0005)" = DONE
check "the CA issued exactly one certificate for it" test "$(($(wc -l <"$RENEWD_LAB_DIR/ca/depot/index.txt") - issued0))" = 1
keys_now

# ------------------------------------------------------------- 6. key material
keys_now
[[ -n ${CAP_PID:-} ]] && { kill "$CAP_PID"; wait "$CAP_PID" 2>/dev/null || true; CAP_PID=; }
# Every 40-character piece of every private key's DER in base64, at all three
# byte alignments, less the pieces that also occur in its public key.
. "$HERE/lib/keypieces.sh"
key_pieces "$WORK/keys.pem" "$WORK/key-pieces"
npieces=$(wc -l <"$WORK/key-pieces")
check "collected key material of every host ($npieces pieces)" test "$npieces" -gt 100
jdump >"$WORK/journal.sql"
for f in journal.sql all-output.txt trace.jsonl; do
	check "no private key material in $f" bash -c "! grep -F -q -f '$WORK/key-pieces' '$WORK/$f'"
done
check "the trace saw the CA's replies decrypted on the targets" grep -q '"script": *"scep.decrypt"' "$WORK/trace.jsonl"
if [[ -f $WORK/lab.pcap ]]; then
	check "no private key material in the lab traffic capture ($(stat -c %s "$WORK/lab.pcap") bytes)" \
		bash -c "! grep -a -F -q -f '$WORK/key-pieces' '$WORK/lab.pcap'"
fi


# ------------------------------------------------------------- 9. lost reply
# The CA issues, but its reply never reaches renewd: a proxy in front of the
# lab CA (perl, from perl-base) passes GetCACaps/GetCACert, forwards the
# first PKIOperation, takes the CA's answer and holds it; renewd is SIGKILLed
# then, and the job stays REQUESTED. scepserver has no CertPoll ("not
# implemented"), so the next run (straight to the CA) sends the identical
# journaled request again, installs what the CA answers, and says the CA may
# hold an orphan: the certificate it issued first.
cat >"$WORK/holdproxy.pl" <<'PROXY'
use strict; use warnings; use IO::Socket::INET;
my ($listen, $upstream, $held, $pidfile) = @ARGV;
setpgrp(0, 0);
my $srv = IO::Socket::INET->new(LocalAddr => $listen, Listen => 16, ReuseAddr => 1) or die "listen $listen: $!";
open(my $pf, '>', $pidfile) or die; print $pf "$$\n"; close $pf;
$SIG{CHLD} = 'IGNORE';
while (1) {
	my $c = $srv->accept or next;
	if (fork) { close $c; next }
	my $req = '';
	while ($req !~ /\r\n\r\n/) { sysread($c, $req, 65536, length $req) or exit 0 }
	my ($head, $body) = split /\r\n\r\n/, $req, 2;
	my ($len) = $head =~ /^Content-Length:\s*(\d+)/mi;
	while (length($body) < ($len // 0)) { sysread($c, $body, 65536, length $body) or exit 0 }
	$head =~ s/\r\nConnection:[^\r]*//gi;
	my $u = IO::Socket::INET->new(PeerAddr => $upstream) or exit 1;
	print $u "$head\r\nConnection: close\r\n\r\n$body";
	my $rep = '';
	while (sysread($u, $rep, 65536, length $rep)) { }
	if ($head =~ /^POST / && !-e $held) {
		open(my $h, '>', $held) or die; print $h $rep; close $h;
		sysread($c, my $x, 1); # hold the answer until the client is gone
		exit 0;
	}
	print $c $rep;
	exit 0;
}
PROXY
sed 's|"url": "http://127.0.0.2:8080/scep"|"url": "http://127.0.0.2:8081/scep"|' "$WORK/lab.json" >"$WORK/lost.json"
"$LAB" exec -- perl "$WORK/holdproxy.pl" 127.0.0.2:8081 127.0.0.2:8080 "$WORK/held" "$WORK/proxy.pid" >"$WORK/proxy.log" 2>&1 &
for _ in $(seq 1 50); do
	"$LAB" exec -- curl -fsS -o /dev/null 'http://127.0.0.2:8081/scep?operation=GetCACaps' 2>/dev/null && break
	sleep 0.1
done
"$LAB" cert h0005 --due >/dev/null
issued0=$(wc -l <"$RENEWD_LAB_DIR/ca/depot/index.txt")
"$LAB" exec -- "$RENEWD" run "$WORK/lost.json" --host h0005 --journal "$JOURNAL" >"$WORK/lost-crash.out" 2>&1 &
crash_pid=$!
for _ in $(seq 1 300); do [ -s "$WORK/held" ] && break; sleep 0.1; done
check "the CA answered the request and the proxy holds the answer" test -s "$WORK/held"
"$LAB" exec -- pkill -9 -f "renewd run $WORK/lost.json" || true
wait "$crash_pid" 2>/dev/null || true
[ -s "$WORK/proxy.pid" ] && kill -- -"$(cat "$WORK/proxy.pid")" 2>/dev/null || true
check "renewd was killed with the job in REQUESTED" test "$(state_of h0005)" = REQUESTED
check "the CA issued a certificate nobody received" \
	test "$(($(wc -l <"$RENEWD_LAB_DIR/ca/depot/index.txt") - issued0))" = 1
rd lost-resume run "$WORK/lab.json" --host h0005
check "the next run recovers without an operator (exit 10), got $rc" test "$rc" = 10
check "h0005: journal says DONE" test "$(state_of h0005)" = DONE
check "the report says the reply was lost, and that a resend may leave an orphan at the CA" \
	grep -q "request: RenewalReq [0-9a-f]* sent, its reply lost -> poll it (CertPoll); if the CA cannot poll, send the identical request again (the CA may then hold an orphan certificate)" "$WORK/lost-resume.out"
check "the report's notice says the identical request was resent and the CA may hold an orphan" \
	grep -q "notice: apply: .*the identical request resent: the CA may hold an orphan certificate" "$WORK/lost-resume.out"
check "renewd warns that it resent the identical request" \
	grep -q "issue: CA http://127.0.0.2:8080/scep: CertPoll answered HTTP 500: not implemented; resending the identical request [0-9a-f]* (lost reply)" "$WORK/lost-resume.err"
lost_job="(select id from jobs where host='h0005' order by id desc limit 1)"
check "the journal's issue result records the possible orphan" \
	test "$(jsql "select result from steps where job_id = $lost_job and step = 'issue' and phase = 'apply' and status = 0" | jq -r '[.orphan.possible, .orphan.resent] | map(if . == true then 1 elif . == false then 0 else . end | tostring) | join(" ")')" = "1 1"
check "and its message says the CA may hold an orphan certificate" \
	test "$(jsql "select count(*) from steps where job_id = $lost_job and step = 'issue' and phase = 'apply' and message like '%the identical request resent: the CA may hold an orphan certificate%'")" = 1
check "the CA issued 2 certificates for the job: the orphan and the one installed" \
	test "$(($(wc -l <"$RENEWD_LAB_DIR/ca/depot/index.txt") - issued0))" = 2
c=$(crt h0005)
check "h0005: the new certificate verifies against the lab CA" bash -c "openssl verify -CAfile '$LAB_CA_CERT' <<<'$c' >/dev/null"
check "h0005: it is the CA's second certificate, not the orphan" \
	test "$(openssl x509 -noout -serial <<<"$c" | cut -d= -f2 | tr a-f A-F | sed 's/^0*//')" = \
	"$(tail -n 1 "$RENEWD_LAB_DIR/ca/depot/index.txt" | cut -f4 | tr a-f A-F | sed 's/^0*//')"
check "h0005: live key matches it" test \
	"$(on h0005 'sudo -n openssl pkey -in /srv/renewd-lab/tls/server.key -pubout' | sha256sum)" = "$(openssl x509 -noout -pubkey <<<"$c" | sha256sum)"
check "h0005: and it is served" test "$(served h0005)" = "$(fp <<<"$c")"
check "h0005: no staged key left" bash -c "! '$LAB' ssh h0005 'ls -a /srv/renewd-lab/tls/' | grep -q renewd-new"

finish

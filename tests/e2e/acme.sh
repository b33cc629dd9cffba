#!/usr/bin/env bash
# tests/e2e/acme.sh — real renewals of a 3-host lab through Debian's pebble
# (an independent ACME server, RFC 8555) with the acme issuer.
#
#  1. `renewd plan` changes nothing on any host (exit 10).
#  2. `renewd run` renews the fleet with http-01 (exit 10): pebble fetches each
#     key authorization from the host's own nginx on port 80; each new
#     certificate is pebble's, with a new key made on the host, the host's
#     name as DNS SAN; nginx serves it; app.conf pins it; the journal says
#     DONE; no challenge file is left. A second run renews nothing (exit 0).
#  3. One host renewed with dns-01 through a hook on the target (it calls
#     pebble-challtestsrv's set-txt / clear-txt): added, validated, removed.
#  4. renewd killed mid-order (waiting after the dns-01 record was added):
#     the next run resumes the journal's job and finishes the SAME order
#     (the journal's acme.order, and pebble created one order for it).
#  5. ARI (RFC 9773) through a test double of renewalInfo in front of pebble
#     (Debian's pebble 2.4 has none: lib/acme_ari_double.py adds it to the
#     directory): none of the hosts is due by days; h0001's window is open
#     (renews), h0002's opens in 30 days (does not), h0003's is over (renews
#     at once); `plan` names each window and its source (ARI, or the policy
#     against pebble itself).
#  6. No private key of any host appears in the journal, renewd's output, the
#     plaintext of every remote script (RENEWD_TRACE_REMOTE), pebble's log or
#     a capture of all lab traffic.
# RENEWD_TEST_JOURNAL=pg: the journal on PostgreSQL (lib/journalq.sh).
# Needs root and pebble (contrib/deps.sh installs it).
# Prints "acme: N passed, M failed".
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
LAB=$ROOT/contrib/lab/lab
RENEWD=${RENEWD_BIN:-$ROOT/build/renewd}
export RENEWD_PLUGINS=${RENEWD_PLUGINS:-$(dirname "$RENEWD")/plugins}
export RENEWD_LAB_DIR=${ACME_LAB_DIR:-/var/lib/renewd-lab-acme}
export RENEWD_LAB_NETNS=${ACME_LAB_NETNS:-renewd-lab-acme}
HOSTS=(h0001 h0002 h0003)
# shellcheck source=lib/keypieces.sh
. "$HERE/lib/keypieces.sh"
CA=127.0.0.2

pass=0 fail=0
ok()     { pass=$((pass + 1)); printf 'ok   - %s\n' "$*"; }
not_ok() { fail=$((fail + 1)); printf 'FAIL - %s\n' "$*"; }
check()  { local d=$1; shift; if "$@"; then ok "$d"; else not_ok "$d"; fi; }
finish() { printf 'acme: %d passed, %d failed\n' "$pass" "$fail"; ((fail == 0)); }

[[ $(id -u) == 0 ]] || { echo "acme: SKIP: needs root (network namespaces, sshd)"; exit 77; }
for c in pebble pebble-challtestsrv; do
	command -v "$c" >/dev/null || { echo "acme: SKIP: $c is not installed (contrib/deps.sh installs pebble)"; exit 77; }
done
[[ -x $RENEWD ]] || { echo "acme: $RENEWD not built (set RENEWD_BIN)" >&2; exit 2; }

WORK=$(mktemp -d /tmp/acme.XXXXXX)
cleanup() {
	local rc=$?
	for p in ${CAP_PID:-} ${PEB_PID:-} ${CTS_PID:-} ${ARI_PID:-}; do kill "$p" 2>/dev/null || true; done
	"$LAB" down --purge >/dev/null 2>&1 || true
	[[ -n ${KEEP_WORK:-} ]] && echo "acme: kept $WORK" >&2 || rm -rf "$WORK"
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

on() { "$LAB" ssh "$1" "${@:2}"; }
crt() { on "$1" 'cat /srv/renewd-lab/tls/server.crt'; }
fp() { openssl x509 -noout -fingerprint -sha256 | cut -d= -f2 | tr -d : | tr A-F a-f; }
addr_of() { sed -n "s/.*\"$1\": {\"address\": \"\([0-9.]*\)\".*/\1/p" "$LAB_INVENTORY"; }
served() { "$LAB" exec -- openssl s_client -connect "$(addr_of "$1"):443" </dev/null 2>/dev/null | fp; }
tree_sums() { find "$RENEWD_LAB_DIR"/hosts/*/root -type f -print0 | sort -z | xargs -0 sha256sum; }
state_of() { jnewest "$1"; }
order_of() { jsql "select $(jfield value order) from kv where key = 'acme.order' and job_id = (select id from jobs where host='$1' order by id desc limit 1)"; }
keys_now() { for h in "${HOSTS[@]}"; do on "$h" 'sudo -n cat /srv/renewd-lab/tls/server.key; for k in /srv/renewd-lab/tls/server.key.renewd-*; do [ -f "$k" ] && sudo -n cat "$k"; done; true'; done >>"$WORK/keys.pem"; }
rd() { # rd LOGNAME ARGS... : renewd inside the lab netns; exit status in $rc
	local name=$1; shift
	rc=0
	"$LAB" exec -- "$RENEWD" "$@" --journal "$JOURNAL" >"$WORK/$name.out" 2>"$WORK/$name.err" || rc=$?
	cat "$WORK/$name.out" "$WORK/$name.err" >>"$WORK/all-output.txt"
}
# rc_is NAME WANT: renewd's last exit status was WANT; if not, show what that
# run said of the hosts it did not finish, and its errors (a CI log then
# tells why)
rc_is() {
	[[ $rc == "$2" ]] && return 0
	{
		echo "--- renewd $1 (exit $rc), its hosts not DONE or NOT_DUE:"
		awk '/^host /{show = ($0 !~ /: (DONE|NOT_DUE)/)} show' "$WORK/$1.out" | tail -n 60
		echo "--- its standard error:"
		tail -n 30 "$WORK/$1.err"
		echo "--- pebble's last problems:"
		grep -i 'error\|problem\|invalid\|fail' "$WORK/pebble.log" | tail -n 15
	} | sed 's/^/    /'
	return 1
}

# ------------------------------------------------------------- pebble
# pebble on the CA address with its own TLS certificate (the runbook's
# ca_bundle), validating on port 80 (the hosts' nginx); pebble-challtestsrv
# is its DNS: an A record per host name, TXT records from the dns-01 hook.
# PEBBLE_AUTHZREUSE=0: every order is validated afresh (pebble reuses half
# of the valid authorizations by default).
ACME=$RENEWD_LAB_DIR/acme
mkdir -p "$ACME"
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$ACME/pebble.key" \
	-out "$ACME/pebble.crt" -days 2 -subj /CN=pebble -addext subjectAltName=IP:$CA 2>/dev/null
cat >"$ACME/pebble.json" <<J
{"pebble": {"listenAddress": "$CA:14000", "managementListenAddress": "$CA:15000",
 "certificate": "$ACME/pebble.crt", "privateKey": "$ACME/pebble.key", "httpPort": 80,
 "tlsPort": 5001, "ocspResponderURL": "", "externalAccountBindingRequired": false}}
J
"$LAB" exec -- pebble-challtestsrv -http01 "" -https01 "" -tlsalpn01 "" -dns01 $CA:8053 \
	-management $CA:8055 -defaultIPv6 "" >"$WORK/challtestsrv.log" 2>&1 &
CTS_PID=$!
PEBBLE_VA_NOSLEEP=1 PEBBLE_AUTHZREUSE=0 "$LAB" exec -- pebble -config "$ACME/pebble.json" -dnsserver $CA:8053 >"$WORK/pebble.log" 2>&1 &
PEB_PID=$!
up=0
for _ in $(seq 1 100); do
	if "$LAB" exec -- curl -fsS --cacert "$ACME/pebble.crt" -o /dev/null "https://$CA:14000/dir" 2>/dev/null &&
		"$LAB" exec -- curl -fsS -o /dev/null -d '{"host":"probe.","addresses":["127.0.0.1"]}' "http://$CA:8055/add-a" 2>/dev/null; then
		up=1; break
	fi
	sleep 0.1
done
check "pebble and its DNS answer" test "$up" = 1
for h in "${HOSTS[@]}"; do # every DNS name of each host's certificate points at it
	for n in $(crt "$h" | openssl x509 -noout -ext subjectAltName 2>/dev/null | grep -o 'DNS:[^,]*' | cut -d: -f2) "$h"; do
		"$LAB" exec -- curl -fsS -o /dev/null -d "{\"host\":\"$n.\",\"addresses\":[\"$(addr_of "$h")\"]}" "http://$CA:8055/add-a"
	done
	# the dns-01 hook: HOOK add|remove NAME VALUE, each call logged
	cat >"$RENEWD_LAB_DIR/hosts/$h/root/bin/acme-dns-hook" <<H
#!/bin/sh
echo "\$1 \$2" >>/srv/renewd-lab/dns-hook.log
case \$1 in
  add) curl -fsS -d "{\"host\":\"\$2.\",\"value\":\"\$3\"}" http://$CA:8055/set-txt ;;
  remove) curl -fsS -d "{\"host\":\"\$2.\"}" http://$CA:8055/clear-txt ;;
  *) exit 2 ;;
esac
H
	chmod 755 "$RENEWD_LAB_DIR/hosts/$h/root/bin/acme-dns-hook"
done
openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$ACME/account.key" 2>/dev/null
# the dns-01 runs use an account of their own: pebble 2.4 reuses an account's
# valid authorizations (PEBBLE_AUTHZREUSE=0 notwithstanding), and a reused
# http-01 authorization would skip the dns-01 challenge these runs prove
openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$ACME/account-dns.key" 2>/dev/null
chmod 600 "$ACME/account.key" "$ACME/account-dns.key"

# runbooks: the shipped one pointed at this lab; dns-01 through the hook;
# the same with a 30 s wait after adding the record (the crash window)
sed "s|/var/lib/renewd-lab/|$RENEWD_LAB_DIR/|g" "$ROOT/runbooks/lab-posix-acme.json" >"$WORK/lab.json"
sed -e 's|"webroot": "/srv/renewd-lab/www"|"challenge_type": "dns-01", "dns_hook": "/srv/renewd-lab/bin/acme-dns-hook"|' \
	-e 's|/acme/account.key"|/acme/account-dns.key"|' "$WORK/lab.json" >"$WORK/dns.json"
sed 's|"dns_hook": "/srv/renewd-lab/bin/acme-dns-hook"|&, "dns_wait_ms": 30000|' "$WORK/dns.json" >"$WORK/slow.json"
check "test runbooks validate" "$RENEWD" validate "$WORK/lab.json" "$WORK/dns.json" "$WORK/slow.json"
check "the dns-01 runbooks differ from the http-01 one" bash -c "grep -q dns-01 '$WORK/dns.json' && grep -q account-dns.key '$WORK/dns.json' && grep -q dns_wait_ms '$WORK/slow.json'"

# capture all lab traffic for the key-material check
if command -v tcpdump >/dev/null; then
	"$LAB" exec -- tcpdump -i lo -w "$WORK/lab.pcap" -U -s 0 >/dev/null 2>&1 &
	CAP_PID=$!
fi

keys_now
declare -A OLD_FP OLD_PUB
orders() { grep -c 'Added order' "$WORK/pebble.log" || true; }

# ------------------------------------------------------------- 1. plan
for h in "${HOSTS[@]}"; do
	"$LAB" cert "$h" --due >/dev/null
	OLD_FP[$h]=$(crt "$h" | fp)
	OLD_PUB[$h]=$(crt "$h" | openssl x509 -noout -pubkey | sha256sum)
done
keys_now
tree_sums >"$WORK/before.sums"
rd plan plan "$WORK/lab.json"
check "plan: exit 10 (renewals due), got $rc" test "$rc" = 10
tree_sums >"$WORK/after.sums"
check "plan: nothing changed on any host" cmp -s "$WORK/before.sums" "$WORK/after.sums"
check "plan: pebble was asked for no order" test "$(orders)" = 0

# ------------------------------------------------------------- 2. http-01 fleet
rd run run "$WORK/lab.json"
check "run: exit 10, got $rc" rc_is run 10
check "run: the report counts 3 renewed" grep -q "3 renewed, 0 failed" "$WORK/run.out"
for h in "${HOSTS[@]}"; do
	c=$(crt "$h")
	check "$h: journal says DONE" test "$(state_of "$h")" = DONE
	check "$h: a new certificate from pebble" bash -c "[ '$(fp <<<"$c")' != '${OLD_FP[$h]}' ] && openssl x509 -noout -issuer <<<'$c' | grep -q Pebble"
	check "$h: with a new key" test "$(openssl x509 -noout -pubkey <<<"$c" | sha256sum)" != "${OLD_PUB[$h]}"
	check "$h: the host's name is a DNS SAN" bash -c "openssl x509 -noout -ext subjectAltName <<<'$c' | grep -q 'DNS:$h'"
	check "$h: the live key matches it" test \
		"$(on "$h" 'sudo -n openssl pkey -in /srv/renewd-lab/tls/server.key -pubout' | sha256sum)" = "$(openssl x509 -noout -pubkey <<<"$c" | sha256sum)"
	check "$h: nginx serves it" test "$(served "$h")" = "$(fp <<<"$c")"
	sha1=$(openssl x509 -noout -fingerprint -sha1 <<<"$c" | cut -d= -f2 | tr -d : | tr A-F a-f)
	check "$h: app.conf pins it" bash -c "'$LAB' ssh $h 'cat /srv/renewd-lab/etc/app.conf' | grep -q 'cert_sha1 = $sha1'"
	check "$h: pebble validated http-01 through its nginx" \
		bash -c "grep -q 'http://$h/.well-known/acme-challenge/' '$WORK/pebble.log' || grep -q 'http://$h:80/.well-known/acme-challenge/' '$WORK/pebble.log'"
	check "$h: no challenge file left" bash -c "[ -z \"\$(ls -A '$RENEWD_LAB_DIR/hosts/$h/root/www/.well-known/acme-challenge' 2>/dev/null)\" ]"
	check "$h: no staged key left" bash -c "! '$LAB' ssh $h 'ls -a /srv/renewd-lab/tls/' | grep -q renewd-new"
done
check "pebble created 3 orders" test "$(orders)" = 3
keys_now
rd again run "$WORK/lab.json"
check "a second run renews nothing (exit 0), got $rc" rc_is again 0
check "and orders nothing" test "$(orders)" = 3

# ------------------------------------------------------------- 3. dns-01
"$LAB" cert h0003 --due >/dev/null
old=$(crt h0003 | fp)
keys_now
rd dns run "$WORK/dns.json" --host h0003
check "dns-01: exit 10, got $rc" rc_is dns 10
check "h0003: journal says DONE" test "$(state_of h0003)" = DONE
c=$(crt h0003)
check "h0003: a new certificate from pebble" bash -c "[ '$(fp <<<"$c")' != '$old' ] && openssl x509 -noout -issuer <<<'$c' | grep -q Pebble"
check "h0003: nginx serves it" test "$(served h0003)" = "$(fp <<<"$c")"
check "h0003: the hook added the record, then removed it" \
	bash -c "grep -q '^add _acme-challenge\.h0003' '$RENEWD_LAB_DIR/hosts/h0003/root/dns-hook.log' && tail -n 1 '$RENEWD_LAB_DIR/hosts/h0003/root/dns-hook.log' | grep -q '^remove _acme-challenge\.h0003'"
check "pebble validated it over DNS" grep -q 'Added DNS-01 TXT challenge for Host "_acme-challenge.h0003."' "$WORK/challtestsrv.log"
keys_now

# ------------------------------------------------------------- 4. killed mid-order
# renewd is SIGKILLed while it waits after adding h0002's dns-01 record (the
# order created and journaled); the next run resumes that job and finishes
# the same order: no second order at pebble.
"$LAB" cert h0002 --due >/dev/null
keys_now
orders0=$(orders)
: >"$RENEWD_LAB_DIR/hosts/h0002/root/dns-hook.log"
("$LAB" exec -- "$RENEWD" run "$WORK/slow.json" --host h0002 --journal "$JOURNAL" >"$WORK/crash.out" 2>&1) &
crash_pid=$!
crashed=0
for _ in $(seq 1 200); do
	if grep -q '^add ' "$RENEWD_LAB_DIR/hosts/h0002/root/dns-hook.log" && [ -n "$(order_of h0002)" ]; then
		"$LAB" exec -- pkill -9 -f "renewd run $WORK/slow.json" && crashed=1
		break
	fi
	sleep 0.1
done
wait "$crash_pid" 2>/dev/null || true
check "renewd was killed with an order in flight" test "$crashed" = 1
order=$(order_of h0002)
check "the journal holds the order (acme.order: $order)" bash -c "[[ '$order' == https://$CA:14000/* ]]"
check "the job is not finished" test "$(state_of h0002)" != DONE
check "pebble created one order for it" test "$(($(orders) - orders0))" = 1
rd resume run "$WORK/dns.json" --host h0002
check "the next run resumes and finishes it (exit 10), got $rc" test "$rc" = 10
check "it says it resumed that order" \
	bash -c "grep -F 'host h0002: runbook ' '$WORK/resume.err' | grep -qF ': issue: acme: resuming order $order'"
check "h0002: journal says DONE" test "$(state_of h0002)" = DONE
check "the job finished the same order" test "$(order_of h0002)" = "$order"
check "pebble still has one order for it" test "$(($(orders) - orders0))" = 1
c=$(crt h0002)
check "h0002: a certificate from pebble, served" bash -c "openssl x509 -noout -issuer <<<'$c' | grep -q Pebble && [ '$(served h0002)' = '$(fp <<<"$c")' ]"
check "h0002: no staged key left" bash -c "! '$LAB' ssh h0002 'ls -a /srv/renewd-lab/tls/' | grep -q renewd-new"
keys_now

# ------------------------------------------------------------- 5. ARI
# the test double of renewalInfo on the CA address, port 14443, with
# pebble's TLS certificate; the runbook's directory is the double's
serial_of() { crt "$1" | openssl x509 -noout -serial | cut -d= -f2 | tr A-F a-f | sed 's/^0*//'; }
printf '{"%s": "inside", "%s": "outside", "%s": "past"}\n' "$(serial_of h0001)" "$(serial_of h0002)" \
	"$(serial_of h0003)" >"$WORK/ari-windows.json"
"$LAB" exec -- /usr/bin/python3 "$HERE/lib/acme_ari_double.py" $CA 14443 "$ACME/pebble.crt" "$ACME/pebble.key" \
	"https://$CA:14000/dir" "$ACME/pebble.crt" "$WORK/ari-windows.json" "$WORK/ari.log" >"$WORK/ari-double.log" 2>&1 &
ARI_PID=$!
up=0
for _ in $(seq 1 100); do
	"$LAB" exec -- curl -fsS --cacert "$ACME/pebble.crt" -o "$WORK/ari-dir.json" "https://$CA:14443/dir" 2>/dev/null && { up=1; break; }
	sleep 0.1
done
check "the renewalInfo double answers, its directory has renewalInfo" bash -c "[ $up = 1 ] && grep -q renewalInfo '$WORK/ari-dir.json'"
check "pebble's own directory has none" bash -c "! '$LAB' exec -- curl -fsS --cacert '$ACME/pebble.crt' https://$CA:14000/dir | grep -q renewalInfo"
sed "s|https://$CA:14000/dir|https://$CA:14443/dir|" "$WORK/lab.json" >"$WORK/ari.json"
declare -A ARI_FP
for h in "${HOSTS[@]}"; do ARI_FP[$h]=$(crt "$h" | fp); done
orders0=$(orders)
rd pplan plan "$WORK/lab.json"
check "plan without ARI: nothing due (exit 0), got $rc" rc_is pplan 0
check "plan without ARI: the window is the policy's" \
	bash -c "[ \$(grep -c '^host h000[123] .*NOT_DUE — .*days left, window opens at 10.0 days; window from the policy\$' '$WORK/pplan.out') = 3 ]"
rd aplan plan "$WORK/ari.json"
check "plan with ARI: renewals due (exit 10), got $rc" test "$rc" = 10
check "plan: h0001 inside the CA's window" grep -qE '^host h0001 .* — window [0-9: -]+ \.\. [0-9: -]+ UTC from the CA \(ARI\): renewal time .* passed$' "$WORK/aplan.out"
check "plan: h0002 not due, its window later" grep -qE '^host h0002 .*NOT_DUE — window [0-9: -]+ \.\. [0-9: -]+ UTC from the CA \(ARI\): renewal at ' "$WORK/aplan.out"
check "plan: h0003's window over, renew at once" grep -qE "^host h0003 .* — the CA's window \(ARI\) .* is over: renew at once" "$WORK/aplan.out"
check "plan: the double was asked for each certificate" test "$(sort -u "$WORK/ari.log" | wc -l)" = 3
check "plan: no order" test "$(orders)" = "$orders0"
rd arun run "$WORK/ari.json" --json
check "run with ARI: exit 10, got $rc" rc_is arun 10
check "run: the JSON report gives each window's source" test \
	"$(jq -r '[.jobs[] | .host + "=" + .due.window.source] | sort | join(" ")' "$WORK/arun.out")" = "h0001=ARI h0002=ARI h0003=ARI"
check "run: 2 renewed" test "$(jq -r '.stats.renewed' "$WORK/arun.out")" = 2
check "h0001 (inside its window) renewed" bash -c "[ '$(crt h0001 | fp)' != '${ARI_FP[h0001]}' ] && [ '$(state_of h0001)' = DONE ]"
check "h0002 (window later) not renewed" test "$(crt h0002 | fp)" = "${ARI_FP[h0002]}"
check "h0003 (window over) renewed" bash -c "[ '$(crt h0003 | fp)' != '${ARI_FP[h0003]}' ] && [ '$(state_of h0003)' = DONE ]"
check "pebble created 2 orders" test "$(($(orders) - orders0))" = 2
for h in h0001 h0003; do
	check "$h: its order names the certificate it replaces (ARI CertID)" bash -c "jq -r '.jobs[] | select(.host == \"$h\") | .steps[] | select(.type == \"acme.issue\") | .phases.probe.message' '$WORK/arun.out' | grep -qE 'replacing [A-Za-z0-9_-]+\.[A-Za-z0-9_-]+'"
done
keys_now
kill "$ARI_PID" 2>/dev/null || true
wait "$ARI_PID" 2>/dev/null || true
ARI_PID=

# ------------------------------------------------------------- 6. key material
[[ -n ${CAP_PID:-} ]] && { kill "$CAP_PID"; wait "$CAP_PID" 2>/dev/null || true; CAP_PID=; }
key_pieces "$WORK/keys.pem" "$WORK/key-pieces"
npieces=$(wc -l <"$WORK/key-pieces")
check "collected key material of every host ($npieces pieces)" test "$npieces" -gt 30
jdump >"$WORK/journal.sql"
for f in journal.sql all-output.txt trace.jsonl pebble.log; do
	check "no private key material in $f" bash -c "! grep -F -q -f '$WORK/key-pieces' '$WORK/$f'"
done
check "the trace saw the CSR signed on the targets" grep -q '"script": *"key.sign"' "$WORK/trace.jsonl"
if [[ -f $WORK/lab.pcap ]]; then
	check "no private key material in the lab traffic capture ($(stat -c %s "$WORK/lab.pcap") bytes)" \
		bash -c "! grep -a -F -q -f '$WORK/key-pieces' '$WORK/lab.pcap'"
fi

finish

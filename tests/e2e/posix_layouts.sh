#!/usr/bin/env bash
# tests/e2e/posix_layouts.sh — unusual file layouts on a real lab host,
# renewed through the lab's SCEP CA and served by its nginx.
#
#  1. Combined PEM (haproxy layout): the runbook's "cert" and "key" are one
#     file holding certificate, chain and key, and nginx serves it as both
#     ssl_certificate and ssl_certificate_key. `renewd run` renews it: the
#     file holds the new certificate, the CA and the new key (which matches),
#     keeps its mode, one dated backup, no staged or temp file left, nginx
#     serves the new certificate, the journal says DONE.
#  2. The same layout with a TLS check that fails (no reload): ROLLED_BACK,
#     and the old combined file is back byte for byte and still served.
# RENEWD_TEST_JOURNAL=pg: the journal on PostgreSQL (lib/journalq.sh).
# Needs root. Prints "posix_layouts: N passed, M failed".
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
LAB=$ROOT/contrib/lab/lab
RENEWD=${RENEWD_BIN:-$ROOT/build/renewd}
export RENEWD_PLUGINS=${RENEWD_PLUGINS:-$(dirname "$RENEWD")/plugins}
export RENEWD_LAB_DIR=${LAYOUTS_LAB_DIR:-/var/lib/renewd-lab-layouts}
export RENEWD_LAB_NETNS=${LAYOUTS_LAB_NETNS:-renewd-lab-lay}
H=h0001
TLS=/srv/renewd-lab/tls
COMB=$TLS/combined.pem

pass=0 fail=0
ok()     { pass=$((pass + 1)); printf 'ok   - %s\n' "$*"; }
not_ok() { fail=$((fail + 1)); printf 'FAIL - %s\n' "$*"; }
check()  { local d=$1; shift; if "$@"; then ok "$d"; else not_ok "$d"; fi; }
finish() { printf 'posix_layouts: %d passed, %d failed\n' "$pass" "$fail"; ((fail == 0)); }

[[ $(id -u) == 0 ]] || { echo "posix_layouts: SKIP: needs root (network namespaces, sshd)"; exit 77; }
[[ -x $RENEWD ]] || { echo "posix_layouts: $RENEWD not built (set RENEWD_BIN)" >&2; exit 2; }

WORK=$(mktemp -d /tmp/posix_layouts.XXXXXX)
cleanup() {
	local rc=$?
	"$LAB" down --purge >/dev/null 2>&1 || true
	[[ -n ${KEEP_WORK:-} ]] && echo "posix_layouts: kept $WORK" >&2 || rm -rf "$WORK"
	exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

"$LAB" down --purge >/dev/null 2>&1 || true
if ! "$LAB" up --hosts 1 >"$WORK/up.log" 2>&1; then
	not_ok "lab up"; sed 's/^/    /' "$WORK/up.log"; finish; exit 1
fi
# shellcheck disable=SC1091
. "$RENEWD_LAB_DIR/lab.env"
JOURNAL=$WORK/journal.db
# shellcheck source=lib/journalq.sh
. "$HERE/lib/journalq.sh"
journal_setup
HROOT=$RENEWD_LAB_DIR/hosts/$H/root

rd() { # rd LOGNAME ARGS... : renewd inside the lab netns; exit status in $rc
	local name=$1; shift
	rc=0
	"$LAB" exec -- "$RENEWD" "$@" --journal "$JOURNAL" >"$WORK/$name.out" 2>"$WORK/$name.err" || rc=$?
}
on() { "$LAB" ssh "$H" "$@"; }
fp() { openssl x509 -noout -fingerprint -sha256 | cut -d= -f2 | tr -d : | tr A-F a-f; }
served() {
	local addr
	addr=$(sed -n "s/.*\"$H\": {\"address\": \"\([0-9.]*\)\".*/\1/p" "$LAB_INVENTORY")
	"$LAB" exec -- openssl s_client -connect "$addr:443" </dev/null 2>/dev/null | fp
}
comb() { cat "$HROOT/tls/combined.pem"; }
state_of() { jnewest "$H"; }
# the host's current certificate, CA and key as one file, served by nginx
make_combined() {
	cat "$HROOT/tls/server.crt" "$HROOT/tls/ca.crt" "$HROOT/tls/server.key" >"$HROOT/tls/combined.pem"
	chmod 0600 "$HROOT/tls/combined.pem"
	"$LAB" tls "$H" restart >/dev/null
}

# nginx reads certificate, chain and key from the one file
sed -i "s|$TLS/server.crt;|$COMB;|; s|$TLS/server.key;|$COMB;|" "$RENEWD_LAB_DIR/hosts/$H/nginx/nginx.conf"
make_combined
check "nginx serves the combined file" test "$(served)" = "$(comb | fp)"

sed "s|/var/lib/renewd-lab/|$RENEWD_LAB_DIR/|g" "$ROOT/runbooks/lab-posix-scep.json" |
	sed "s|\"cert\": \"$TLS/server.crt\"|\"cert\": \"$COMB\"|; s|\"key\": \"$TLS/server.key\"|\"key\": \"$COMB\"|; /\"chain\": /d" |
	sed 's|"key": "\([^"]*\)",$|"key": "\1"|' >"$WORK/combined.json"
sed 's|"command": "/srv/renewd-lab/bin/tlsctl reload"|"command": "true"|' "$WORK/combined.json" >"$WORK/noreload.json"
check "the combined-layout runbooks validate" "$RENEWD" validate "$WORK/combined.json" "$WORK/noreload.json"
check "the runbook names one file as cert and key" test "$(grep -c "\"$COMB\"" "$WORK/combined.json")" = 2

# ------------------------------------------------------------- 1. renewed
old_fp=$(comb | fp)
rd run run "$WORK/combined.json"
check "run renews the combined file (exit 10), got $rc" test "$rc" = 10
check "journal says DONE" test "$(state_of)" = DONE
new_fp=$(comb | fp)
check "a new certificate is first in the file" test -n "$new_fp" -a "$new_fp" != "$old_fp"
check "it verifies against the lab CA" bash -c "openssl verify -CAfile '$LAB_CA_CERT' <<<\"\$(cat '$HROOT/tls/combined.pem')\" >/dev/null"
check "the file holds certificate, CA, key (2 certificates, 1 key)" \
	test "$(grep -c 'BEGIN CERTIFICATE' "$HROOT/tls/combined.pem") $(grep -c 'BEGIN [A-Z ]*PRIVATE KEY' "$HROOT/tls/combined.pem")" = "2 1"
check "the CA certificate is the file's second one" \
	bash -c "sed -n '/BEGIN CERT/,/END CERT/p' '$HROOT/tls/combined.pem' | awk '/BEGIN/{n++} n==2' | cmp -s - '$LAB_CA_CERT'"
check "the key in the file matches its certificate" test \
	"$(openssl pkey -in "$HROOT/tls/combined.pem" -pubout | sha256sum)" = "$(comb | openssl x509 -noout -pubkey | sha256sum)"
check "mode 0600 kept" test "$(stat -c %a "$HROOT/tls/combined.pem")" = 600
check "one dated backup of the file" test "$(ls "$HROOT/tls/" | grep -c '^combined.pem.renewd-2')" = 1
check "no staged key or temp file left" bash -c "! ls -a '$HROOT/tls/' | grep -q -e renewd-new -e renewd-tmp"
check "nginx serves the new certificate" test "$(served)" = "$new_fp"
check "app.conf pins the new SHA-1" grep -q "$(comb | openssl x509 -noout -fingerprint -sha1 | cut -d= -f2 | tr -d : | tr A-F a-f)" "$HROOT/etc/app.conf"

# ------------------------------------------------------------- 2. rolled back
"$LAB" cert "$H" --due --no-reload >/dev/null
make_combined
cp -p "$HROOT/tls/combined.pem" "$WORK/before.pem"
due_fp=$(comb | fp)
rd rollback run "$WORK/noreload.json"
check "a failing TLS check exits 1, got $rc" test "$rc" = 1
check "journal says ROLLED_BACK" test "$(state_of)" = ROLLED_BACK
check "the old combined file is back byte for byte" cmp -s "$HROOT/tls/combined.pem" "$WORK/before.pem"
check "and still served" test "$(served)" = "$due_fp"
check "no staged key or temp file left" bash -c "! ls -a '$HROOT/tls/' | grep -q -e renewd-new -e renewd-tmp"

finish

#!/usr/bin/env bash
# tests/e2e/lab_smoke.sh — the lab (contrib/lab/lab) comes up and behaves as documented.
#
# Brings up its own 3-host lab (own directory and netns, so it can run beside
# the default lab), checks SSH (key auth, strict host key checking), the enrolled
# certificates, the TLS services, "lab cert --expired", "lab status", and that
# "lab down" leaves nothing behind. Needs root. Prints "lab_smoke: N passed, M failed".
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
LAB=$ROOT/contrib/lab/lab
export RENEWD_LAB_DIR=${LAB_SMOKE_DIR:-/var/lib/renewd-lab-smoke}
export RENEWD_LAB_NETNS=${LAB_SMOKE_NETNS:-renewd-lab-smoke}
HOSTS=(h0001 h0002 h0003)

pass=0 fail=0
ok()     { pass=$((pass + 1)); printf 'ok   - %s\n' "$*"; }
not_ok() { fail=$((fail + 1)); printf 'FAIL - %s\n' "$*"; }
check()  { local d=$1; shift; if "$@"; then ok "$d"; else not_ok "$d"; fi; }
quiet()  { "$@" >/dev/null 2>&1; }
finish() {
	printf 'lab_smoke: %d passed, %d failed\n' "$pass" "$fail"
	((fail == 0))
}

if [[ $(id -u) != 0 ]]; then
	echo "lab_smoke: SKIP: needs root (network namespaces, sshd); run it with sudo"
	exit 77
fi

WORK=$(mktemp -d /tmp/lab_smoke.XXXXXX)
lab_is_down=0
cleanup() {
	local rc=$?
	if ((lab_is_down == 0)); then
		echo "lab_smoke: tearing the lab down" >&2
		"$LAB" down --purge >/dev/null 2>&1 || true
	fi
	rm -rf "$WORK"
	exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# start from nothing (a previous run may have been killed)
"$LAB" down --purge >/dev/null 2>&1 || true

# ---------------------------------------------------------------- up
if "$LAB" up --hosts 3 >"$WORK/up.log" 2>&1; then
	ok "lab up --hosts 3 ($(grep -o 'in [0-9.]*s' "$WORK/up.log" | head -n 1))"
else
	not_ok "lab up --hosts 3 failed:"
	sed 's/^/    /' "$WORK/up.log"
	finish
	exit 1
fi

# shellcheck disable=SC1091
. "$RENEWD_LAB_DIR/lab.env"
check "lab.env names this lab's netns and dir" \
	test "$LAB_NETNS" = "$RENEWD_LAB_NETNS" -a "$LAB_DIR" = "$RENEWD_LAB_DIR"
check "client key is mode 0600" test "$(stat -c %a "$LAB_KEY")" = 600
check "known_hosts has one ed25519 key per host" test "$(grep -c ' ssh-ed25519 ' "$LAB_KNOWN_HOSTS")" = 3
check "inventory lists 3 hosts, all in group tls" \
	grep -q '"groups": {"all": \["h0001", "h0002", "h0003"\], "tls": \["h0001", "h0002", "h0003"\]}' "$LAB_INVENTORY"
ca_fp=$(openssl x509 -in "$LAB_CA_CERT" -outform DER | sha256sum | cut -d' ' -f1)
check "LAB_CA_FINGERPRINT is the SHA-256 of the CA certificate" test "$ca_fp" = "$LAB_CA_FINGERPRINT"
# shellcheck disable=SC2016 # expanded inside the netns
check "lab exec runs in the netns with LAB_* exported" \
	test "$("$LAB" exec -- sh -c 'ip netns identify $$; echo $LAB_CA_URL' | tr '\n' ' ')" = "$RENEWD_LAB_NETNS $LAB_CA_URL "

addr_of() { sed -n "s/.*\"$1\": {\"address\": \"\([0-9.]*\)\".*/\1/p" "$LAB_INVENTORY"; }

# plain ssh through "lab exec": key auth only, strict host key checking, generated known_hosts
lab_ssh() { # lab_ssh KNOWN_HOSTS ADDR CMD...
	local kh=$1 addr=$2
	shift 2
	"$LAB" exec -- ssh -F /dev/null -i "$LAB_KEY" -o IdentitiesOnly=yes -o BatchMode=yes \
		-o PasswordAuthentication=no -o KbdInteractiveAuthentication=no \
		-o StrictHostKeyChecking=yes -o "UserKnownHostsFile=$kh" -o GlobalKnownHostsFile=/dev/null \
		-o ConnectTimeout=10 -o LogLevel=ERROR "$LAB_USER@$addr" "$@"
}

sha256_of() { openssl x509 -in "$1" -noout -fingerprint -sha256 | cut -d= -f2; }
cn_of() { openssl x509 -in "$1" -noout -subject -nameopt multiline | sed -n 's/^ *commonName *= *//p'; }

# ---------------------------------------------------------------- per host
for h in "${HOSTS[@]}"; do
	a=$(addr_of "$h")
	if lab_ssh "$LAB_KNOWN_HOSTS" "$a" cat "$LAB_MOUNT/tls/server.crt" >"$WORK/$h.crt" 2>"$WORK/$h.err" &&
		[[ -s $WORK/$h.crt ]]; then
		ok "$h: ssh $LAB_USER@$a (key auth, strict host key) reads $LAB_MOUNT/tls/server.crt"
	else
		not_ok "$h: ssh $LAB_USER@$a failed: $(cat "$WORK/$h.err")"
		continue
	fi
	check "$h: certificate verifies against the lab CA" \
		quiet openssl verify -CAfile "$LAB_CA_CERT" "$WORK/$h.crt"
	check "$h: subject CN is $h" test "$(cn_of "$WORK/$h.crt")" = "$h"
	lab_ssh "$LAB_KNOWN_HOSTS" "$a" \
		"sudo -n /bin/sh -c 'stat -c %a:%U $LAB_MOUNT/tls/server.key; cat $LAB_MOUNT/etc/app.conf'" >"$WORK/$h.app" 2>&1 || true
	check "$h: server.key is 0600 root (read with sudo -n)" test "$(head -n 1 "$WORK/$h.app")" = "600:root"
	sha1=$(openssl x509 -in "$WORK/$h.crt" -noout -fingerprint -sha1 | cut -d= -f2 | tr -d : | tr 'A-F' 'a-f')
	check "$h: app.conf carries the certificate's SHA-1 thumbprint" grep -qx "cert_sha1 = $sha1" "$WORK/$h.app"
	"$LAB" exec -- openssl s_client -connect "$a:443" -servername "$h" </dev/null 2>/dev/null |
		openssl x509 >"$WORK/$h.served" 2>/dev/null || true
	check "$h: TLS service on $a:443 serves that certificate" \
		test -s "$WORK/$h.served" -a "$(sha256_of "$WORK/$h.served" 2>/dev/null)" = "$(sha256_of "$WORK/$h.crt")"
done

n_distinct=$(for h in "${HOSTS[@]}"; do sha256_of "$WORK/$h.crt" 2>/dev/null || echo "missing-$h"; done | sort -u | wc -l)
check "the 3 hosts see 3 different certificates at the same path" test "$n_distinct" = 3

: >"$WORK/empty_known_hosts"
if lab_ssh "$WORK/empty_known_hosts" "$(addr_of h0001)" true 2>/dev/null; then
	not_ok "ssh with an empty known_hosts was accepted (strict host key checking not in effect)"
else
	ok "ssh with an empty known_hosts is refused"
fi

# ---------------------------------------------------------------- lab cert --expired
if "$LAB" cert h0002 --expired >"$WORK/cert.log" 2>&1; then
	ok "lab cert h0002 --expired"
else
	not_ok "lab cert h0002 --expired: $(cat "$WORK/cert.log")"
fi
a2=$(addr_of h0002)
lab_ssh "$LAB_KNOWN_HOSTS" "$a2" cat "$LAB_MOUNT/tls/server.crt" >"$WORK/h0002.expired" 2>/dev/null || true
if [[ -s $WORK/h0002.expired ]] && ! openssl x509 -in "$WORK/h0002.expired" -noout -checkend 0 >/dev/null; then
	ok "h0002: the new certificate is expired"
else
	not_ok "h0002: the new certificate is not expired (or unreadable)"
fi
check "h0002: the expired certificate was issued by the lab CA" \
	quiet openssl verify -no_check_time -CAfile "$LAB_CA_CERT" "$WORK/h0002.expired"
check "h0002: openssl verify reports it as expired" \
	sh -c "openssl verify -CAfile '$LAB_CA_CERT' '$WORK/h0002.expired' 2>&1 | grep -q 'certificate has expired'"
check "h0002: it differs from the enrolled one" \
	test "$(sha256_of "$WORK/h0002.expired")" != "$(sha256_of "$WORK/h0002.crt")"
"$LAB" exec -- openssl s_client -connect "$a2:443" -servername h0002 </dev/null 2>/dev/null |
	openssl x509 >"$WORK/h0002.served2" 2>/dev/null || true
check "h0002: the TLS service was reloaded and serves the expired certificate" \
	test -s "$WORK/h0002.served2" -a "$(sha256_of "$WORK/h0002.served2" 2>/dev/null)" = "$(sha256_of "$WORK/h0002.expired")"

# ---------------------------------------------------------------- status
if "$LAB" status >"$WORK/status" 2>&1 && grep -q '^status: OK' "$WORK/status"; then
	ok "lab status is green"
else
	not_ok "lab status is not green:"
	sed 's/^/    /' "$WORK/status"
fi

# ---------------------------------------------------------------- down
if "$LAB" down >"$WORK/down.log" 2>&1; then
	lab_is_down=1
	ok "lab down"
else
	not_ok "lab down: $(cat "$WORK/down.log")"
fi
left=$(ps -eo pid=,args= | grep -F "$RENEWD_LAB_DIR/" | grep -E 'sshd|nginx|scepserver' | grep -v grep || true)
if [[ -z $left ]]; then
	ok "no sshd/nginx/scepserver of the lab is left"
else
	not_ok "processes left after lab down:"
	printf '    %s\n' "$left"
fi
if ip netns list | awk '{print $1}' | grep -qxF "$RENEWD_LAB_NETNS"; then
	not_ok "netns $RENEWD_LAB_NETNS still exists"
else
	ok "netns $RENEWD_LAB_NETNS is gone"
fi
check "lab status reports the lab down (non-zero exit)" sh -c "! '$LAB' status >/dev/null 2>&1"

"$LAB" down --purge >/dev/null 2>&1 || true
finish

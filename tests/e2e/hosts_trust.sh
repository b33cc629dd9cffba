#!/usr/bin/env bash
# tests/e2e/hosts_trust.sh — host keys are never trusted implicitly.
#
# A host whose key changed is refused with both fingerprints; a host missing
# from known_hosts is refused with the command to enrol it; `renewd hosts
# trust` shows the fingerprint, refuses to replace a changed key without
# --replace, asks before adding (no terminal: refuses without --yes), and
# leaves exactly one entry per host; hashed entries and trailing comments are
# read as ssh reads them (already trusted, nothing added). Prints "hosts_trust: N passed, M failed".
set -euo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
LAB=$ROOT/contrib/lab/lab
RENEWD=${RENEWD_BIN:-$ROOT/build/renewd}
export RENEWD_PLUGINS=${RENEWD_PLUGINS:-$(dirname "$RENEWD")/plugins}
export RENEWD_LAB_DIR=${TRUST_LAB_DIR:-/var/lib/renewd-lab-trust}
export RENEWD_LAB_NETNS=${TRUST_LAB_NETNS:-renewd-lab-trust}
pass=0 fail=0
check() { local d=$1; shift; if "$@"; then pass=$((pass + 1)); echo "ok   - $d"; else fail=$((fail + 1)); echo "FAIL - $d"; fi; }
finish() { printf 'hosts_trust: %d passed, %d failed\n' "$pass" "$fail"; ((fail == 0)); }
[[ $(id -u) == 0 ]] || { echo "hosts_trust: SKIP: needs root (the lab uses network namespaces)"; exit 77; }
WORK=$(mktemp -d /tmp/hosts_trust.XXXXXX)
cleanup() { local rc=$?; "$LAB" down --purge >/dev/null 2>&1 || true; rm -rf "$WORK"; exit "$rc"; }
trap cleanup EXIT
"$LAB" down --purge >/dev/null 2>&1 || true
"$LAB" up --hosts 2 >"$WORK/up.log" 2>&1 || { cat "$WORK/up.log"; exit 1; }
# shellcheck disable=SC1091
. "$RENEWD_LAB_DIR/lab.env"
sed "s|/var/lib/renewd-lab/|$RENEWD_LAB_DIR/|g" "$ROOT/runbooks/lab-posix-scep.json" >"$WORK/rb.json"
rd() { # rd NAME ARGS...: exit status in $rc, output in $WORK/NAME
	local name=$1; shift
	rc=0
	"$LAB" exec -- "$RENEWD" "$@" </dev/null >"$WORK/$name" 2>&1 || rc=$?
}
h1_addr=$(sed -n 's/.*"h0001": {"address": "\([0-9.]*\)".*/\1/p' "$LAB_INVENTORY")
h2_addr=$(sed -n 's/.*"h0002": {"address": "\([0-9.]*\)".*/\1/p' "$LAB_INVENTORY")
old_fp=$(ssh-keygen -lf <(grep "^$h1_addr " "$LAB_KNOWN_HOSTS") | awk '{print $2}')

# ---- a changed key
"$LAB" rekey h0001 >/dev/null
new_fp=$(ssh-keygen -lf "$RENEWD_LAB_DIR/hosts/h0001/ssh_host_ed25519_key.pub" 2>/dev/null | awk '{print $2}')
rd inv1 inventory "$WORK/rb.json" --host h0001
check "a changed host key is refused (exit 1), got $rc" test "$rc" = 1
check "the refusal names both fingerprints" grep -q "has CHANGED: .* expects $old_fp, the server presented ${new_fp:-SHA256:}" "$WORK/inv1"
rd t1 hosts trust h0001 --runbook "$WORK/rb.json" --yes
check "hosts trust will not replace it without --replace (exit 1), got $rc" test "$rc" = 1
check "and says why" grep -q "has a DIFFERENT key for it" "$WORK/t1"
rd t2 hosts trust h0001 --runbook "$WORK/rb.json" --yes --replace
check "hosts trust --replace replaces it (exit 0), got $rc" test "$rc" = 0
rd inv2 inventory "$WORK/rb.json" --host h0001
check "the host is reachable again (exit 0), got $rc" test "$rc" = 0
rd t3 hosts trust h0001 --runbook "$WORK/rb.json" --yes
check "a second trust says it is already trusted" grep -q "is already trusted" "$WORK/t3"

# ---- an unknown host
sed -i "/^$h2_addr /d" "$LAB_KNOWN_HOSTS"
rd inv3 inventory "$WORK/rb.json" --host h0002
check "an unknown host key is refused (exit 1), got $rc" test "$rc" = 1
check "with the command to enrol it" grep -q "is not in .*known_hosts; run \`renewd hosts trust h0002\`" "$WORK/inv3"
check "the step says the transport's sentence once, not the code's name before it" \
	bash -c "grep -q 'posix.inventory.read: host key SHA256:' '$WORK/inv3' && ! grep -q 'not trusted: host h0002' '$WORK/inv3'"
rd t4 hosts trust h0002 --runbook "$WORK/rb.json"
check "without a terminal and without --yes nothing is added (exit 1), got $rc" test "$rc" = 1
check "known_hosts still lacks it" bash -c "! grep -q '^$h2_addr ' '$LAB_KNOWN_HOSTS'"
rd t5 hosts trust h0002 --runbook "$WORK/rb.json" --yes
check "hosts trust --yes adds it (exit 0), got $rc" test "$rc" = 0
rd inv4 inventory "$WORK/rb.json" --host h0002
check "the host is reachable (exit 0), got $rc" test "$rc" = 0
check "known_hosts has exactly one entry per host" test "$(grep -c . "$LAB_KNOWN_HOSTS")" = 2

# ---- hashed entries and trailing comments (libssh2 reads them, as ssh does)
ssh-keygen -q -H -f "$LAB_KNOWN_HOSTS" >/dev/null 2>&1 && rm -f "$LAB_KNOWN_HOSTS.old"
sed -i 's/$/ enrolled-by-hand # a comment/' "$LAB_KNOWN_HOSTS"
cp "$LAB_KNOWN_HOSTS" "$WORK/kh.before"
rd t6 hosts trust h0001 h0002 --runbook "$WORK/rb.json" --yes
check "hashed entries with comments are already trusted (exit 0), got $rc" test "$rc" = 0
check "both hosts say so" test "$(grep -c "is already trusted" "$WORK/t6")" = 2
check "known_hosts is left as it was" cmp -s "$LAB_KNOWN_HOSTS" "$WORK/kh.before"
rd inv5 inventory "$WORK/rb.json" --host h0001
check "and the connect-time check agrees (exit 0), got $rc" test "$rc" = 0
finish

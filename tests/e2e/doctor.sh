#!/usr/bin/env bash
# tests/e2e/doctor.sh — `renewd doctor` against a 3-host lab, each host
# broken in its own way, and runbook variants that point at what is missing.
#
#  1. A healthy host (h0001): every check ok, "all good", exit 0.
#  2. h0002 without its sudo rule (an empty sudoers file bound over the
#     lab's rule in that host's mount namespace only): the sudo check names
#     the rule and prints the sudoers line to add; exit 1.
#  3. h0003 with an unreadable key (encrypted: root cannot use it either):
#     the certificate check names the key and says how to fix it.
#  4. A runbook whose CA URL points nowhere: the CA check names the URL.
#  5. A runbook without sudo: the key is unreadable by the login user and
#     the directories are not writable; each with its fix.
#  6. A runbook whose known_hosts lacks the host: the ssh check says to
#     trust it (renewd hosts trust), and nothing else is probed.
#  7. Nothing changed: every file of every host and of the CA depot has the
#     same checksum before and after; usage errors exit 2.
# Needs root. Prints "doctor: N passed, M failed".
set -euo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
T=doctor
# shellcheck source=tests/e2e/lib/labown.sh
. "$HERE/lib/labown.sh"
lab_own "${DOCTOR_LAB_DIR:-/var/lib/renewd-lab-doctor}" "${DOCTOR_LAB_NETNS:-renewd-lab-doc}" 3

sed "s|/var/lib/renewd-lab/|$RENEWD_LAB_DIR/|g" "$ROOT/runbooks/lab-posix-scep.json" >"$WORK/lab.json"
sed 's|"url": "http://127.0.0.2:8080/scep"|"url": "http://127.0.0.2:9/scep"|' "$WORK/lab.json" >"$WORK/noca.json"
sed 's|"sudo": true|"sudo": false|' "$WORK/lab.json" >"$WORK/nosudo.json"
grep -v '^127\.10\.0\.2 ' "$LAB_KNOWN_HOSTS" >"$WORK/known_hosts"
sed "s|\"known_hosts\": \"[^\"]*\"|\"known_hosts\": \"$WORK/known_hosts\"|" "$WORK/lab.json" >"$WORK/untrusted.json"
check "test runbooks validate" "$RENEWD" validate "$WORK/lab.json" "$WORK/noca.json" \
	"$WORK/nosudo.json" "$WORK/untrusted.json"

# h0002: no sudo rule, in its own mount namespace only
printf '# doctor.sh: no rule for labadm on this host\n' >"$WORK/sudoers.none"
chmod 0440 "$WORK/sudoers.none"
nsenter -t "$(cat "$RENEWD_LAB_DIR/hosts/h0002/sshd.pid")" -m \
	mount --bind "$WORK/sudoers.none" /etc/sudoers.d/renewd-lab
# h0003: the key encrypted with a passphrase nobody gave renewd
K3=$RENEWD_LAB_DIR/hosts/h0003/root/tls/server.key
openssl pkey -in "$K3" -aes256 -passout pass:doctor -out "$K3.enc"
cat "$K3.enc" >"$K3" && rm -f "$K3.enc"

tree_sums >"$WORK/before.sums"
has() { grep -qF -- "$2" "$WORK/$1.out"; }
lacks() { ! grep -qF -- "$2" "$WORK/$1.out"; }
show() { sed 's/^/    /' "$WORK/$1.out" "$WORK/$1.err"; }

# 1. healthy
rd healthy doctor "$WORK/lab.json" --host h0001
check "healthy host: exit 0 (got $rc)" test "$rc" = 0
check "healthy host: all good" has healthy "host h0001: verdict: all good"
for c in ssh sudo openssl paths certificate CA install "step key ACL" "step TLS check"; do
	check "healthy host: $c ok" has healthy "host h0001: $c: ok: "
done
check "healthy host: no fix printed" lacks healthy "; fix: "
((rc == 0)) || show healthy

# 2. + 3. the whole runbook: h0002 sudo, h0003 key
rd all doctor "$WORK/lab.json"
check "broken hosts: exit 1 (got $rc)" test "$rc" = 1
check "h0001 still all good" has all "host h0001: verdict: all good"
check "h0002: sudo check names the missing rule" \
	has all "host h0002: sudo: labadm may not run /bin/sh as root without a password"
check "h0002: the sudoers line to add" has all "fix: as root on the host, 'visudo -f /etc/sudoers.d/renewd' and add the line: labadm ALL=(root) NOPASSWD: /bin/sh"
check "h0002: the certificate waits for sudo" has all "host h0002: certificate: "
check "h0002: not ready" has all "host h0002: verdict: "
check "h0002: a step that needs the certificate says to fix that first" \
	has all "host h0002: step app.conf sha1: config /srv/renewd-lab/etc/app.conf: the current certificate's sha1 is unknown (no facts.cert); fix: it needs the live certificate"
check "h0003: unreadable key named" \
	has all "host h0003: certificate: the private key /srv/renewd-lab/tls/server.key cannot be read"
check "h0003: its fix" has all "renewd needs one it can read (openssl pkey -in KEY -out KEY.plain"
check "h0003: sudo is fine" has all "host h0003: sudo: ok: "
check "summary: 1 ready, 2 to fix" has all "doctor: 3 hosts, 1 ready, 2 with something to fix"
grep -q "verdict: all good" <(grep '^host h000[23]' "$WORK/all.out") && not_ok "a broken host says all good" || ok "no broken host says all good"
((rc == 1)) || show all

# 4. the CA points nowhere
rd noca doctor "$WORK/noca.json" --host h0001
check "CA nowhere: exit 1 (got $rc)" test "$rc" = 1
check "CA nowhere: the CA check fails" has noca "host h0001: CA: "
check "CA nowhere: the fix names the URL" has noca "fix: the CA must answer http://127.0.0.2:9/scep"
check "CA nowhere: the rest is fine" has noca "host h0001: sudo: ok: "
((rc == 1)) || show noca

# 5. no sudo in the runbook
rd nosudo doctor "$WORK/nosudo.json" --host h0001
check "no sudo: exit 1 (got $rc)" test "$rc" = 1
check "no sudo: the key is unreadable by labadm" \
	has nosudo "host h0001: certificate: the private key /srv/renewd-lab/tls/server.key cannot be read"
check "no sudo: its fix (sudo or an ACL)" has nosudo "setfacl -m u:labadm:r KEY"
check "no sudo: the directory is not writable" has nosudo "host h0001: paths: /srv/renewd-lab/tls: not writable by labadm"
check "no sudo: no sudo check" lacks nosudo "host h0001: sudo:"
check "no sudo: each directory once" test "$(grep -c '^host h0001: paths: ' "$WORK/nosudo.out")" = 1

# 6. host key not trusted
rd untrusted doctor "$WORK/untrusted.json" --host h0001
check "untrusted: exit 1 (got $rc)" test "$rc" = 1
check "untrusted: the ssh check fails" has untrusted "host h0001: ssh: 127.10.0.2:22: "
check "untrusted: the fix is hosts trust" has untrusted "renewd hosts trust h0001 --runbook $WORK/untrusted.json"
check "untrusted: nothing else probed" lacks untrusted "host h0001: certificate:"
((rc == 1)) || show untrusted

# --json carries the checks
rd json doctor "$WORK/lab.json" --host h0002 --json
check "--json: exit 1 (got $rc)" test "$rc" = 1
check "--json: the sudo check, not ok, with its fix" \
	jq -e '.jobs[0].state == "NOT_READY" and ([.jobs[0].checks[] | select(.check == "sudo" and .ok == false and (.fix | test("NOPASSWD")))] | length == 1)' "$WORK/json.out"

# 7. read-only; usage
tree_sums >"$WORK/after.sums"
check "doctor changed no file on any host nor in the CA depot" cmp -s "$WORK/before.sums" "$WORK/after.sums"
rd usage doctor
check "no runbook: exit 2 (got $rc)" test "$rc" = 2
rd usage2 doctor "$WORK/lab.json" --bogus
check "unknown option: exit 2 (got $rc)" test "$rc" = 2
rd usage3 doctor "$WORK/lab.json" --host nosuch
check "unknown host: exit 2 (got $rc)" test "$rc" = 2
finish

#!/usr/bin/env bash
# tests/e2e/faults_target.sh — a target whose disk is full or read-only, a
# command that hangs, and two runs on one journal; one lab host, the lab
# runbook.
#  1. disk full: a 2 MB tmpfs over the host's certificate directory (its
#     files copied in), filled up — the run fails with a message that says
#     "no space left on device"; the old certificate, key and app.conf stay
#     live and served; space freed, the next run renews.
#  2. read-only: the certificate directory bound read-only — the same, with
#     "Read-only file system".
#  3. two `renewd run` at once on one journal — one renews, the other waits
#     for or is refused the host's lease: one certificate, one DONE job.
#  4. a hanging command: a follow-up (posix.exec) that sleeps past its 3 s
#     timeout — the step times out (RD_ETIMEDOUT, transient), the job rolls
#     back, the old certificate is served again.
#  5. the TLS service's user (the lab's labsvc) and the key: posix.key_acl
#     with readable_by labsvc reads the key as that user after the install.
#     (a) labsvc reads the live key through its ACL entry (u:labsvc:r):
#     renewed, and the new key keeps the entry (it was lost: the job rolled
#     back, and the rollback lost it too). (b) no entry: labsvc cannot read
#     the new key — the job rolls back naming user, owner, group and mode;
#     the old certificate, key and pin stay live and served.
# RENEWD_TEST_JOURNAL=pg: the journal on PostgreSQL (lib/journalq.sh).
# Needs root. Prints "faults_target: N passed, M failed".
T=faults_target H=h0001
# shellcheck source=lib/onehost.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib/onehost.sh"
journal_setup # lib/journalq.sh, through lib/renewcheck.sh
# shellcheck source=lib/pins.sh
. "$E2E/lib/pins.sh"

M=/srv/renewd-lab
# nginx shares the host's mount namespace with sshd, and outlives sshd
inhost() { nsenter -t "$(cat "$RENEWD_LAB_DIR/hosts/$H/nginx/nginx.pid")" -m -- "$@"; }
fine() { [[ -z $(rc_jobs_ok "$JOURNAL" "$H"; rc_host_ok "$H"; rc_pins_ok "$H") ]]; }
# what the host itself sees (through its mount namespace)
host_fp() { inhost openssl x509 -in "$M/tls/server.crt" -noout -fingerprint -sha256 | cut -d= -f2 | tr -d : | tr A-F a-f; }
# intact OLD_FP: the host still has, pins and serves its old certificate and key
intact() {
	local out
	out=$(
		[[ $(host_fp) == "$1" ]] || echo "the live certificate changed"
		[[ $(rc_served "$H") == "$1" ]] || echo "the service does not serve the old certificate"
		[[ $(inhost openssl x509 -in "$M/tls/server.crt" -noout -pubkey | sha256sum) == \
			"$(inhost openssl pkey -in "$M/tls/server.key" -pubout | sha256sum)" ]] || echo "the live key does not match"
		sha1=$(inhost openssl x509 -in "$M/tls/server.crt" -noout -fingerprint -sha1 | cut -d= -f2 | tr -d : | tr A-F a-f)
		inhost grep -q "^cert_sha1 = $sha1\$" "$M/etc/app.conf" || echo "app.conf does not pin the live certificate"
		[[ -z $(inhost find "$M/tls" -name '*.renewd-new*' -o -name '*.renewd-tmp.*') ]] || echo "staged files left"
	)
	[[ -z $out ]] || { sed 's/^/     | /' <<<"$out"; return 1; }
}
state() { jnewest "$H"; }
said() { grep -q -i -- "$1" "$WORK/$2.out" "$WORK/$2.err"; }

# ------------------------------------------------------------- 1. disk full
due $H; old=$(live_fp $H); issued0=$(rc_issued)
inhost sh -c "cp -a $M/tls /tmp/renewd-tls.$$ && mount -t tmpfs -o size=2m tmpfs $M/tls && cp -a /tmp/renewd-tls.$$/. $M/tls/ && rm -rf /tmp/renewd-tls.$$"
inhost sh -c "dd if=/dev/zero of=$M/tls/.filler bs=64k 2>/dev/null; true"
check "disk full: the certificate directory has no space left" test "$(inhost df --output=avail -k "$M/tls" | tail -1 | tr -d ' ')" = 0
run full
check "disk full: the run fails (exit 1), got $rc" test "$rc" = 1
check "disk full: the message names the cause" said "key generation: the key could not be written whole in $M/tls (no space left on device)" full
check "disk full: the job ended $(state), not DONE" test "$(state)" != DONE
check "disk full: the old certificate, key and pin are live and served" intact "$old"
inhost rm -f "$M/tls/.filler"
run full-after --force
check "disk full: space freed, the next run renews (exit 10), got $rc" test "$rc" = 10
check "disk full: DONE and the new certificate served" test "$(state)/$(rc_served $H)" = "DONE/$(host_fp)"
# back to the host's own directory: what renewd wrote into the tmpfs goes there
inhost tar -C "$M/tls" -cf - . | tar -C "$RENEWD_LAB_DIR/hosts/$H/root/tls" -xf -
inhost umount "$M/tls"
check "disk full: one certificate in all (the failed job sent no request), got $(($(rc_issued) - issued0))" \
	test "$(($(rc_issued) - issued0))" = 1

# ------------------------------------------------------------- 2. read-only
due $H; old=$(live_fp $H)
inhost sh -c "mount --bind $M/tls $M/tls && mount -o remount,bind,ro $M/tls"
run ro
check "read-only: the run fails (exit 1), got $rc" test "$rc" = 1
check "read-only: the message names the cause" said "Read-only file system" ro
check "read-only: the old certificate, key and pin are live and served" intact "$old"
inhost umount "$M/tls"
run ro-after --force
check "read-only: writable again, the next run renews (exit 10), got $rc" test "$rc" = 10
check "read-only: DONE, renewed, served, pinned" fine

# ------------------------------------------------------------- 3. concurrent runs
due $H; issued0=$(rc_issued); id0=$(jsql "select coalesce(max(id), 0) from jobs")
(run one; exit "$rc") & p1=$!
(run two; exit "$rc") & p2=$!
wait $p1; rc1=$?; wait $p2; rc2=$?
check "concurrent: the CA issued one certificate" test "$(($(rc_issued) - issued0))" = 1
check "concurrent: one job opened, DONE (exits $rc1, $rc2)" test "$(jsql "select state from jobs where id > $id0 order by id" | paste -sd,)" = DONE
check "concurrent: renewed, served, pinned" fine
# ------------------------------------------------------------- 4. hanging command (last: its rollback leaves a backoff)
jq '.steps = [{type: "posix.exec", name: "hang", params: {script: "[ \"$1\" = apply ] && sleep 60; true"}, timeout: "3s"}] + .steps' "$RB" >"$WORK/hang.json"
due $H; old=$(live_fp $H)
t0=$SECONDS; RB=$WORK/hang.json run hang
check "hang: the run fails (exit 1), got $rc" test "$rc" = 1
check "hang: within the timeout and the rollback ($((SECONDS - t0)) s)" test $((SECONDS - t0)) -lt 40
check "hang: the step timed out" said "hang: apply: .*timed out" hang
check "hang: the job rolled back, got $(state)" test "$(state)" = ROLLED_BACK
check "hang: the old certificate, key and pin are live and served" intact "$old"

# ------------------------------------------------------------- 5. the service user's read access
SVC=labsvc
jq --arg u $SVC '(.steps[] | select(.type == "posix.key_acl") | .params) += {readable_by: $u}' "$RB" >"$WORK/svc.json"
acl_of() { inhost getfacl -c -E -p "$M/tls/server.key" | grep "^user:$SVC:"; }
due $H; old=$(live_fp $H)
inhost setfacl -m u:$SVC:r "$M/tls/server.key"
RB=$WORK/svc.json run svc --force
check "service user: readable through its ACL entry, renewed (exit 10), got $rc" test "$rc" = 10
# (after section 4's rollback the pins are compared without case: lib/pins.sh)
check "service user: DONE, renewed, served, pinned" \
	test -z "$(rc_jobs_ok "$JOURNAL" "$H"; rc_host_ok "$H"; rc_pins_nocase "$H")"
check "service user: the new key keeps the entry, got $(acl_of)" test "$(acl_of)" = "user:$SVC:r--"
svc_reads() { inhost runuser -u $SVC -- head -c 1 -- "$M/tls/server.key" >/dev/null; }
check "service user: $SVC can read the new key" svc_reads
due $H; old=$(live_fp $H)
RB=$WORK/svc.json run svc-denied --force
check "service user: no entry: the run fails (exit 1), got $rc" test "$rc" = 1
check "service user: the job rolled back, got $(state)" test "$(state)" = ROLLED_BACK
check "service user: the message names the cause" \
	said "user $SVC (readable_by) cannot read it (owner root, group root, mode 0600, no ACL): the service would not load the key" svc-denied
check "service user: the old certificate, key and pin are live and served" intact "$old"

finish

#!/usr/bin/env bash
# tests/e2e/multi_cert.sh — several certificates of one host in one runbook
# ('certificates', docs/RUNBOOKS.md) on a 1-host lab, over SCEP.
#
# The host's nginx serves its main certificate (server.crt) on 443 and a
# second one (second.crt, made here, signed by the lab CA) on 8443. The
# runbook renews both: each is issued and installed, then its key ACL; then
# one reload (posix.service, whose command counts itself in a log on the
# host), then a TLS check of each certificate.
#  1. Both due: one job renews both; the CA issues two certificates; nginx
#     reloads exactly once; nginx serves both new certificates; the report
#     and --json name each certificate.
#  2. The second's TLS check fails (its server block serves a stale copy):
#     both certificates are restored (files as before), the reload runs once
#     more after the rollback, the job ends ROLLED_BACK.
#  3. renewd is killed (SIGKILL) between the two issuances (a hook of the
#     main certificate sleeps): the next run resumes the job and the CA
#     issues only the second certificate (no second request for the first).
# RENEWD_TEST_JOURNAL=pg: the journal on PostgreSQL (lib/journalq.sh).
# Prints "multi_cert: N passed, M failed"; exits 77 (skip) when it cannot run.
set -euo pipefail

TEST=multi_cert
LAB_DIR_NAME=${MULTI_LAB_DIR:-/var/lib/renewd-lab-multi}
LAB_NETNS=${MULTI_LAB_NETNS:-renewd-lab-multi}
# shellcheck source=lib/labtest.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib/labtest.sh"
lab_begin 1
# shellcheck source=lib/journalq.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib/journalq.sh"
journal_setup

H=$RENEWD_LAB_DIR/hosts/h0001
TLS=$H/root/tls
RELOADS=/srv/renewd-lab/reloads.log
reloads() { on h0001 "cat $RELOADS 2>/dev/null | wc -l"; }
sha() { openssl x509 -in "$1" -noout -fingerprint -sha256 | cut -d= -f2; }
served() { # served PORT: the sha256 fingerprint nginx serves there
	"$LAB" exec -- openssl s_client -connect "$H_ADDR_1:$1" -servername h0001 </dev/null 2>/dev/null |
		openssl x509 -noout -fingerprint -sha256 | cut -d= -f2
}
H_ADDR_1=$(jq -r '.hosts.h0001.address' "$RENEWD_LAB_DIR/inventory.json")

# The second certificate: RSA (the lab's SCEP server cannot encrypt to EC
# keys), due in 5 days, served on 8443 from $1 (second.crt, or a copy).
second_cert() {
	openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out "$WORK/second.key" 2>/dev/null
	openssl req -new -key "$WORK/second.key" -subj "/CN=h0001-second" -out "$WORK/second.csr" 2>/dev/null
	openssl x509 -req -in "$WORK/second.csr" -CA "$RENEWD_LAB_DIR/ca/depot/ca.pem" \
		-CAkey "$RENEWD_LAB_DIR/ca/depot/ca.key" -passin pass: -set_serial "0x$(openssl rand -hex 8)" \
		-days 5 -out "$WORK/second.crt" 2>/dev/null
	install -m 0600 -o root -g root "$WORK/second.key" "$TLS/second.key"
	install -m 0644 -o root -g root "$WORK/second.crt" "$TLS/second.crt"
}
serve_second_from() { # serve_second_from FILE: the 8443 block's certificate
	sed -i "s|ssl_certificate /srv/renewd-lab/tls/[a-z-]*\.crt; # second|ssl_certificate /srv/renewd-lab/tls/$1; # second|" \
		"$H/nginx/nginx.conf"
	"$LAB" tls h0001 reload >/dev/null
}
serve_second() { # a server block on 8443 for the second certificate, before http's last }
	sed -i '$d' "$H/nginx/nginx.conf"
	cat >>"$H/nginx/nginx.conf" <<EOF
    server {
        listen $H_ADDR_1:8443 ssl;
        server_name h0001;
        ssl_certificate /srv/renewd-lab/tls/second.crt; # second
        ssl_certificate_key /srv/renewd-lab/tls/second.key;
        location / { default_type text/plain; return 200 "second\n"; }
    }
}
EOF
	"$LAB" tls h0001 reload >/dev/null
}

# A hook of the main certificate (after its key ACL). pause_hook SECS: it
# sleeps that long (its pid in reloads.log.pid on the host), so that renewd
# can be killed between the two issuances; 0: it does nothing.
pause_hook() {
	if (($1 > 0)); then
		printf 'if [ "$1" = apply ]; then echo $$ >%s.pid; exec sleep %s; fi\ntrue\n' "$RELOADS" "$1" >"$WORK/pause.sh"
	else
		printf 'true\n' >"$WORK/pause.sh"
	fi
}
pause_hook 0
# The runbook: lab-posix-scep.json's head with two certificates.
jq --arg pause "$WORK/pause.sh" --arg log "$RELOADS" '
	del(.certificate) | .name = "multi-cert" | .schedule = {"max_parallel": 4}
	| .certificates = [
		{"name": "main", "certificate": {"cert": "/srv/renewd-lab/tls/server.crt",
			"key": "/srv/renewd-lab/tls/server.key", "chain": "/srv/renewd-lab/tls/ca.crt"},
		 "steps": [{"type": "posix.key_acl", "name": "key ACL", "params": {"owner": "root", "group": "root", "mode": "0600"}},
			{"type": "posix.exec", "name": "pause", "params": {"file": $pause}, "timeout": "2m"}]},
		{"name": "second", "certificate": {"cert": "/srv/renewd-lab/tls/second.crt",
			"key": "/srv/renewd-lab/tls/second.key", "chain": "/srv/renewd-lab/tls/ca.crt"},
		 "steps": [{"type": "posix.key_acl", "name": "key ACL", "params": {"owner": "root", "group": "root", "mode": "0600"}}]}]
	| .steps = [
		{"type": "posix.service", "name": "reload nginx",
		 "params": {"command": ("echo reload >>" + $log + " && /srv/renewd-lab/bin/tlsctl reload")}},
		{"type": "tls.verify", "name": "TLS main", "params": {"port": 443, "purpose": "any"}, "timeout": "30s"},
		{"type": "tls.verify", "name": "TLS second", "certificate": "second",
		 "params": {"port": 8443, "purpose": "any"}, "timeout": "30s"}]' \
	"$ROOT/runbooks/lab-posix-scep.json" | sed "s|/var/lib/renewd-lab/|$RENEWD_LAB_DIR/|g" >"$WORK/multi.json"
check "the test runbook validates" "$RENEWD" validate "$WORK/multi.json"

# ------------------------------------------------------------- 1. both renew, one reload
"$LAB" cert h0001 --due >/dev/null
second_cert
serve_second
on h0001 "sudo -n rm -f $RELOADS"
issued0=$(issued)
old_main=$(sha "$TLS/server.crt") old_second=$(sha "$TLS/second.crt")
rd both run "$WORK/multi.json"
check "both due: the run renews (exit 10), got $rc" test "$rc" = 10
check "the CA issued two certificates" test "$(($(issued) - issued0))" = 2
check "nginx reloaded exactly once" test "$(reloads)" = 1
check "both files are new" bash -c "[ '$(sha "$TLS/server.crt")' != '$old_main' ] && [ '$(sha "$TLS/second.crt")' != '$old_second' ]"
check "nginx serves both new certificates" \
	bash -c "[ '$(served 443)' = '$(sha "$TLS/server.crt")' ] && [ '$(served 8443)' = '$(sha "$TLS/second.crt")' ]"
check "the report lists both certificates" \
	bash -c "grep -q '^  certificate main: renew' '$WORK/both.out' && grep -q '^  certificate second: renew' '$WORK/both.out'"
rd jobs status --all --json
check "one journal job for the pair, DONE (renewd status)" \
	bash -c "jq -e '.jobs | length == 1 and .[0].state == \"DONE\"' '$WORK/jobs.out' >/dev/null"
rd plan plan "$WORK/multi.json" --force --json
check "--json: every step keeps its runbook's job and its certificate" \
	bash -c "jq -e '.jobs[0].runbook == \"multi-cert\" and ([.jobs[0].steps[] | select(.type == \"scep.issue\") | .certificate] == [\"main\", \"second\"]) and (.jobs[0].certificates | length == 2)' '$WORK/plan.out' >/dev/null"

# ------------------------------------------------------------- 2. a failed check restores both
cp "$TLS/second.crt" "$TLS/second-stale.crt"
cp "$TLS/second.key" "$TLS/second-stale.key"
sed -i "s|ssl_certificate_key /srv/renewd-lab/tls/second.key;|ssl_certificate_key /srv/renewd-lab/tls/second-stale.key;|" "$H/nginx/nginx.conf"
serve_second_from second-stale.crt
on h0001 "sudo -n rm -f $RELOADS"
issued1=$(issued)
before_main=$(sha "$TLS/server.crt") before_second=$(sha "$TLS/second.crt")
rd fail run "$WORK/multi.json" --force
check "a failed check: exit 1, got $rc" test "$rc" = 1
check "the job rolled back" grep -q "^host h0001 (posix): ROLLED_BACK" "$WORK/fail.out"
check "both certificates were issued (then replaced back)" test "$(($(issued) - issued1))" = 2
check "both files are restored" \
	bash -c "[ '$(sha "$TLS/server.crt")' = '$before_main' ] && [ '$(sha "$TLS/second.crt")' = '$before_second' ]"
check "the reload ran once for the change and once after the rollback" test "$(reloads)" = 2
check "nginx serves the restored main certificate" test "$(served 443)" = "$before_main"
sed -i "s|ssl_certificate_key /srv/renewd-lab/tls/second-stale.key;|ssl_certificate_key /srv/renewd-lab/tls/second.key;|" "$H/nginx/nginx.conf"
serve_second_from second.crt

# ------------------------------------------------------------- 3. killed between the issuances
pause_hook 60
on h0001 "sudo -n rm -f $RELOADS.pid"
issued2=$(issued)
"$LAB" exec -- "$RENEWD" run "$WORK/multi.json" --force --journal "$JOURNAL" >"$WORK/killed.out" 2>&1 &
killed=$!
check "the run reaches the main certificate's hook" \
	wait_for 90 bash -c "'$LAB' ssh h0001 'cat $RELOADS.pid 2>/dev/null' | grep -q '^[0-9]'"
check "by then the CA issued the main certificate only" test "$(($(issued) - issued2))" = 1
# this run only (its runbook is this test's own)
pid=$(pgrep -f "renewd run $WORK/multi.json --force" | head -n 1) || pid=
[[ -n $pid ]] && kill -9 "$pid"
wait "$killed" 2>/dev/null || true
on h0001 "sudo -n kill \$(cat $RELOADS.pid)" || true # the hook it left sleeping
pause_hook 0
rd resume run "$WORK/multi.json"
check "the next run resumes the job and finishes it (exit 10), got $rc" test "$rc" = 10
check "the report says it resumed" grep -q "resuming job [0-9]*, interrupted in" "$WORK/resume.out"
check "no second request for the main certificate: two issued in all" \
	test "$(($(issued) - issued2))" = 2
check "nginx serves both certificates of the job" \
	bash -c "[ '$(served 443)' = '$(sha "$TLS/server.crt")' ] && [ '$(served 8443)' = '$(sha "$TLS/second.crt")' ]"
finish

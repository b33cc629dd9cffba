#!/usr/bin/env bash
# tests/e2e/serve_reload.sh — `renewd serve` as ops run it: short scans of
# two runbooks against a 3-host lab, e-mail (Debian's aiosmtpd, STARTTLS and
# login) and webhook notifications, and SIGHUP.
#
# Runbook lab-a (h0001, h0002) renews both; lab-b (h0003, no service reload)
# rolls back. Each event — three certificates crossing 7 days, one rollback —
# is mailed once and posted once, however many scans follow; lab-b's daily
# digest (due from 00:00) comes once, listing the rollback and h0003's expiry. /metrics expiry
# values are the certificates' notAfter on the hosts. SIGHUP with lab-a's
# file broken: refused with its file:line:column (log, stderr, /status,
# renewd_runbook_last_reload_successful 0), the loaded version keeps
# scanning; SIGHUP with a good file (renamed lab-a2): used from its next
# scan. SIGTERM: exit 0, nothing left open, no secret in any output.
# RENEWD_TEST_JOURNAL=pg: the journal on PostgreSQL (lib/journalq.sh).
# Prints "serve_reload: N passed, M failed"; exits 77 (skip) when it cannot run.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
LAB=$ROOT/contrib/lab/lab
RENEWD=${RENEWD_BIN:-$ROOT/build/renewd}
export RENEWD_PLUGINS=${RENEWD_PLUGINS:-$(dirname "$RENEWD")/plugins}
export RENEWD_LAB_DIR=${RELOAD_LAB_DIR:-/var/lib/renewd-lab-reload}
export RENEWD_LAB_NETNS=${RELOAD_LAB_NETNS:-renewd-lab-reload}
PY=/usr/bin/python3 # Debian's, where python3-aiosmtpd is installed
PORT=9464

pass=0 fail=0
ok()     { pass=$((pass + 1)); printf 'ok   - %s\n' "$*"; }
not_ok() { fail=$((fail + 1)); printf 'FAIL - %s\n' "$*"; }
check()  { local d=$1; shift; if "$@"; then ok "$d"; else not_ok "$d"; fi; }
finish() { printf 'serve_reload: %d passed, %d failed\n' "$pass" "$fail"; ((fail == 0)); }

[[ $(id -u) == 0 ]] || { echo "serve_reload: SKIP: needs root (network namespaces, sshd)" >&2; exit 77; }
[[ -x $RENEWD ]] || { echo "serve_reload: $RENEWD not built (set RENEWD_BIN)" >&2; exit 2; }
command -v jq >/dev/null || { echo "serve_reload: SKIP: needs jq" >&2; exit 77; }
"$PY" -c 'import aiosmtpd' 2>/dev/null || { echo "serve_reload: SKIP: needs python3-aiosmtpd (contrib/deps.sh)" >&2; exit 77; }

WORK=$(mktemp -d /tmp/serve_reload.XXXXXX)
DAEMON=
# shellcheck source=../tools/notify_sink.sh
. "$ROOT/tests/tools/notify_sink.sh"
cleanup() {
	local rc=$?
	[[ -n $DAEMON ]] && kill "$DAEMON" 2>/dev/null || true
	sink_stop
	"$LAB" down --purge >/dev/null 2>&1 || true
	[[ -n ${KEEP_WORK:-} ]] && echo "serve_reload: kept $WORK" >&2 || rm -rf "$WORK"
	exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

"$LAB" down --purge >/dev/null 2>&1 || true
"$LAB" up --hosts 3 >"$WORK/up.log" 2>&1 || { not_ok "lab up"; cat "$WORK/up.log"; finish; exit 1; }
# shellcheck disable=SC1091
. "$RENEWD_LAB_DIR/lab.env"
JOURNAL=$WORK/journal.db
# shellcheck source=lib/journalq.sh
. "$HERE/lib/journalq.sh"
journal_setup

# ------------------------------------------------------------- the sinks
sink_init
TOKEN="tok-$(openssl rand -hex 12)"
check "SMTP server (STARTTLS, login) starts" start_sink starttls 2525
check "webhook receiver starts" start_sink webhook 8089

# ------------------------------------------------------------- runbooks
jq '.groups.a = ["h0001", "h0002"] | .groups.b = ["h0003"]' "$LAB_INVENTORY" >"$WORK/inventory.json"
base=$(sed "s|/var/lib/renewd-lab/|$RENEWD_LAB_DIR/|g" "$ROOT/runbooks/lab-posix-scep.json")
notify='"notify": {"email": {"smtp": "smtp://127.0.0.1:2525", "from": "renewd@lab.test", "to": ["ops@lab.test"], "user": "mailer", "password": {"file": "'$WORK/smtp.pw'"}, "ca_bundle": "'$WORK/tls/server.crt'"}, "webhook": {"url": "http://127.0.0.1:8089/hook", "token": {"env": "RENEWD_HOOK_TOKEN"}}, "before_expiry_days": [14, 7]}'
mk() { # mk NAME GROUP [SED]: the runbook NAME on the inventory's GROUP
	sed -e "s|\"name\": \"lab-posix-scep\"|\"name\": \"$1\"|" \
		-e "s|\"targets\": {[^}]*}|\"targets\": {\"inventory\": \"$WORK/inventory.json\", \"group\": \"$2\"}|" \
		-e 's|"schedule": {[^}]*}|"schedule": {\n    "scan_interval": "3s", "jitter": "0s"}|' \
		-e "s|\"notify\": {[^}]*}|$notify|" -e "${3:-s|^||}" <<<"$base"
}
mk lab-a a >"$WORK/a.json"
mk lab-b b 's|"command": "/srv/renewd-lab/bin/tlsctl reload"|"command": "true"|; s|"to": \["ops@lab.test"\]|"to": ["ops@lab.test"], "digest": "00:00"|' >"$WORK/b.json"
check "lab-b has a digest" grep -q '"digest": "00:00"' "$WORK/b.json"
check "test runbooks validate" "$RENEWD" validate "$WORK/a.json" "$WORK/b.json"

metrics() { "$LAB" exec -- curl -fsS -m 5 "http://127.0.0.1:$PORT/metrics" 2>/dev/null; }
metric() { # metric NAME RUNBOOK: its value
	metrics | awk -v k="$1{runbook=\"$2\"}" '!f && $1 == k {print $2; f = 1}'
}
wait_for() { # wait_for SECONDS CMD...: until CMD succeeds
	local until=$((SECONDS + $1))
	shift
	while ((SECONDS < until)); do "$@" && return 0; sleep 0.5; done
	return 1
}
at_least() { # at_least NAME RUNBOOK N
	local v
	v=$(metric "$1" "$2")
	[[ -n $v ]] && ((v >= $3))
}
jqt() { jq -e "$@" >/dev/null; } # jqt FILTER FILE: the filter holds
n_in() { ls "$WORK/inbox" | grep -c "^$1-" || true; }
kind_of() { jq -r .data "$1" | tr -d '\r' | sed -n 's/^X-Renewd-Event: //p'; }
n_mail() { # n_mail KIND: e-mails with X-Renewd-Event KIND
	local f n=0
	for f in "$WORK"/inbox/starttls-*.json; do [[ -f $f && $(kind_of "$f") == "$1" ]] && n=$((n + 1)); done
	echo "$n"
}
mails_are() { [[ "$(($(n_mail job) + $(n_mail expiring))) $(n_mail digest)" == "$1 $2" ]]; }

"$LAB" exec -- env RENEWD_HOOK_TOKEN="$TOKEN" "$RENEWD" serve "$WORK/a.json" "$WORK/b.json" \
	--journal "$JOURNAL" --listen "127.0.0.1:$PORT" >"$WORK/serve.out" 2>"$WORK/serve.err" &
DAEMON=$!
check "serve starts with two runbooks" wait_for 20 bash -c "'$LAB' exec -- curl -fsS http://127.0.0.1:$PORT/healthz >/dev/null 2>&1"
check "lab-a renews h0001 and h0002" wait_for 120 at_least renewd_renewed_total lab-a 2
check "lab-b's renewal of h0003 rolls back" wait_for 120 at_least renewd_failed_total lab-b 1
s0=$(metric renewd_scans_total lab-a)
check "later scans run (lab-a: $s0, then 2 more)" wait_for 60 at_least renewd_scans_total lab-a $((s0 + 2))

# ------------------------------------------------------------- each notification once
check "4 e-mails (3 expiring certificates, 1 rollback) and 1 digest" wait_for 15 mails_are 4 1
check "4 webhook posts, the same events" wait_for 15 bash -c "[ \$(ls '$WORK/inbox' | grep -c '^webhook-') = 4 ]"
subjects=$(for f in "$WORK"/inbox/starttls-*.json; do [[ $(kind_of "$f") == digest ]] || jq -r .data "$f" | tr -d '\r' | sed -n 's/^Subject: //p'; done | sort)
expect=$(printf '%s\n' "[renewd] h0001: certificate expires within 7 days (runbook lab-a)" \
	"[renewd] h0002: certificate expires within 7 days (runbook lab-a)" \
	"[renewd] h0003: ROLLED_BACK (runbook lab-b)" \
	"[renewd] h0003: certificate expires within 7 days (runbook lab-b)")
check "the e-mails' subjects name each host and event" test "$subjects" = "$expect"
hooks=$(for f in "$WORK"/inbox/webhook-*.json; do jq -r '.body | "\(.host) \(.event) \(.state // .threshold_days)"' "$f"; done | sort)
check "the webhook posts: the same four events" test "$hooks" = "$(printf '%s\n' 'h0001 expiring 7' 'h0002 expiring 7' 'h0003 expiring 7' 'h0003 job ROLLED_BACK')"
check "the webhook posts carry the token" bash -c "for f in '$WORK'/inbox/webhook-*.json; do jq -e '.authorization == \"Bearer $TOKEN\"' \"\$f\" >/dev/null || exit 1; done"

digest=$(for f in "$WORK"/inbox/starttls-*.json; do [[ $(kind_of "$f") == digest ]] && jq -r .data "$f" | tr -d '\r'; done)
check "the digest: lab-b, 1 certificate, 1 job needing attention" \
	grep -q "^Subject: \[renewd\] digest $(date +%F) (runbook lab-b): 1 certificates, 0 expired, 1 within 14 days, 1 jobs need attention$" <<<"$digest"
check "the digest lists h0003's rollback with its reason" grep -q '^  h0003 .* ROLLED_BACK since .*TLS check' <<<"$digest"
check "the digest lists h0003's certificate and days left" grep -qE '^  h0003 +20[0-9-]+T[0-9:]+Z +[0-9]\.[0-9] days$' <<<"$digest"

# ------------------------------------------------------------- /metrics expiry = the certificates
metrics >"$WORK/metrics.txt"
for h in h0001 h0002 h0003; do
	na=$(awk -v h="$h" '/^renewd_certificate_expiration_timestamp_seconds/ && index($1, "host=\"" h "\"") {print $2}' "$WORK/metrics.txt")
	real=$(date -d "$("$LAB" ssh "$h" 'cat /srv/renewd-lab/tls/server.crt' | openssl x509 -noout -enddate | cut -d= -f2)" +%s)
	check "$h: /metrics expiry ($na) is the certificate's notAfter ($real)" test "${na:-0}" = "$real"
done

# ------------------------------------------------------------- SIGHUP, broken
cp "$WORK/a.json" "$WORK/a.good"
sed -i 's|"scan_interval": "3s"|"scan_interval": "3 parsecs"|' "$WORK/a.json"
line=$(grep -n '"scan_interval": "3 parsecs"' "$WORK/a.json" | cut -d: -f1)
col=$(($(grep '"scan_interval": "3 parsecs"' "$WORK/a.json" | awk '{print index($0, "\"3 parsecs\"")}')))
s1=$(metric renewd_scans_total lab-a)
kill -HUP "$DAEMON"
check "broken lab-a: refused, reload metric 0" wait_for 10 bash -c "[ \"\$('$LAB' exec -- curl -fsS http://127.0.0.1:$PORT/metrics | awk '\$1 == \"renewd_runbook_last_reload_successful{runbook=\\\"lab-a\\\"}\" {print \$2}')\" = 0 ]"
check "the log names file:line:column ($line:$col)" grep -q "runbook lab-a: reload refused, the loaded version keeps running: $WORK/a.json:$line:$col: 'schedule.scan_interval' is not a duration" "$WORK/serve.err"
check "stderr has the diagnostic too" grep -q "^$WORK/a.json:$line:$col: " "$WORK/serve.err"
"$LAB" exec -- curl -fsS "http://127.0.0.1:$PORT/status" >"$WORK/status1.json"
check "/status: lab-a reload refused at $line:$col" jqt --arg w "$WORK/a.json:$line:$col:" '.runbooks[] | select(.name == "lab-a") | .reload.refused | startswith($w)' "$WORK/status1.json"
check "lab-b (unchanged) reloaded fine" test "$(metric renewd_runbook_last_reload_successful lab-b)" = 1
check "the loaded lab-a keeps scanning" wait_for 30 at_least renewd_scans_total lab-a $((s1 + 2))
check "the daemon is alive" kill -0 "$DAEMON"

# ------------------------------------------------------------- SIGHUP, good
sed 's|"name": "lab-a"|"name": "lab-a2"|' "$WORK/a.good" >"$WORK/a.json"
kill -HUP "$DAEMON"
check "a good lab-a is used from its next scan (as lab-a2)" wait_for 30 at_least renewd_scans_total lab-a2 1
check "lab-a2: reload metric 1" test "$(metric renewd_runbook_last_reload_successful lab-a2)" = 1
check "the log says so" grep -q "runbook lab-a: reloaded as lab-a2: 2 target(s), in use from the next scan" "$WORK/serve.err"
"$LAB" exec -- curl -fsS "http://127.0.0.1:$PORT/status" >"$WORK/status2.json"
check "/status: lab-a2, nothing refused, reloaded" jqt '.runbooks[] | select(.name == "lab-a2") | .reload.refused == null and .reload.reloaded > 0' "$WORK/status2.json"
s2=$(metric renewd_scans_total lab-a2)
check "lab-a2 scans again (after $s2 scans of the slot)" wait_for 30 at_least renewd_scans_total lab-a2 $((s2 + 1))
# (renewd_job_results_total keeps lab-a's jobs: a counter of the process's life)
check "lab-a is gone from /metrics" bash -c "! '$LAB' exec -- curl -fsS http://127.0.0.1:$PORT/metrics | grep -v '^renewd_job_results_total{' | grep 'runbook=\"lab-a\"' >/dev/null"
check "no notification twice (4 e-mails, 1 digest, 4 posts)" test "$(($(n_mail job) + $(n_mail expiring))) $(n_mail digest) $(n_in webhook)" = "4 1 4"

# ------------------------------------------------------------- stop
rc=0
kill -TERM "$DAEMON"
wait "$DAEMON" || rc=$?
DAEMON=
check "SIGTERM stops serve (exit 0)" test "$rc" = 0
check "no handles left open at exit" bash -c "! grep -q 'handles left open' '$WORK/serve.err'"
check "no notification failed" bash -c "! grep -q 'warning: notify' '$WORK/serve.err'"
jdump >"$WORK/journal.sql"
check "neither the SMTP password nor the token in any output or the journal" \
	bash -c "! grep -rqF -e '$PW' -e '$TOKEN' '$WORK/serve.out' '$WORK/serve.err' '$WORK/journal.sql' '$WORK'/inbox/starttls-*"
finish

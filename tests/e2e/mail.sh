#!/usr/bin/env bash
# tests/e2e/mail.sh — notify.email against real SMTP servers (Debian's
# python3-aiosmtpd) inside a 3-host lab's network namespace.
#
# Two servers, both requiring a login: one on smtp:// that refuses anything
# before STARTTLS, one on smtps:// (TLS from the first byte); both with a
# certificate only the runbook's ca_bundle trusts. The lab's certificates
# expire in ~2 days, so notify.before_expiry_days [14, 7] fires once per
# host (for 7). Asserted, message by message: the count, the envelope
# recipients, the login, the headers (Date, Message-ID, From, To, a Subject
# naming the host and the event) and the body's facts (host, state, the
# failure's reason). Each event is mailed once: reruns send nothing more.
# A wrong password is a warning naming the server, and the password (right or
# wrong) appears in no output, the journal or any message. A server that
# offers no STARTTLS gets nothing from smtp:// (unless "starttls": false, a
# local relay without a login).
# RENEWD_TEST_JOURNAL=pg: the journals on PostgreSQL (lib/journalq.sh:
# databases of one private server).
# Prints "mail: N passed, M failed"; exits 77 (skip) when it cannot run.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
LAB=$ROOT/contrib/lab/lab
RENEWD=${RENEWD_BIN:-$ROOT/build/renewd}
export RENEWD_PLUGINS=${RENEWD_PLUGINS:-$(dirname "$RENEWD")/plugins}
export RENEWD_LAB_DIR=${MAIL_LAB_DIR:-/var/lib/renewd-lab-mail}
export RENEWD_LAB_NETNS=${MAIL_LAB_NETNS:-renewd-lab-mail}
PY=/usr/bin/python3 # Debian's, where python3-aiosmtpd is installed

pass=0 fail=0
ok()     { pass=$((pass + 1)); printf 'ok   - %s\n' "$*"; }
not_ok() { fail=$((fail + 1)); printf 'FAIL - %s\n' "$*"; }
check()  { local d=$1; shift; if "$@"; then ok "$d"; else not_ok "$d"; fi; }
finish() { printf 'mail: %d passed, %d failed\n' "$pass" "$fail"; ((fail == 0)); }

[[ $(id -u) == 0 ]] || { echo "mail: SKIP: needs root (network namespaces, sshd)" >&2; exit 77; }
[[ -x $RENEWD ]] || { echo "mail: $RENEWD not built (set RENEWD_BIN)" >&2; exit 2; }
command -v jq >/dev/null || { echo "mail: SKIP: needs jq" >&2; exit 77; }
"$PY" -c 'import aiosmtpd' 2>/dev/null || { echo "mail: SKIP: needs python3-aiosmtpd (contrib/deps.sh)" >&2; exit 77; }

WORK=$(mktemp -d /tmp/mail.XXXXXX)
# shellcheck source=../tools/notify_sink.sh
. "$ROOT/tests/tools/notify_sink.sh"
cleanup() {
	local rc=$?
	sink_stop
	"$LAB" down --purge >/dev/null 2>&1 || true
	[[ -n ${KEEP_WORK:-} ]] && echo "mail: kept $WORK" >&2 || rm -rf "$WORK"
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

# ------------------------------------------------------------- SMTP servers
sink_init
BADPW="bad-$(openssl rand -hex 12)"
printf '%s\n' "$BADPW" >"$WORK/bad.pw"
chmod 600 "$WORK/bad.pw"
check "SMTP server with STARTTLS required starts" start_sink starttls 2525
check "SMTP server on smtps:// starts" start_sink smtps 4650
check "SMTP server without TLS starts" start_sink plain 2526

# ------------------------------------------------------------- runbooks
# one wave: with the shipped [1, "10%", "100%"] the canary is whichever host
# is probed first, and h0001 backing off there would hold h0002 (a HELD
# e-mail in some runs and not in others)
base=$(sed -e "s|/var/lib/renewd-lab/|$RENEWD_LAB_DIR/|g" \
	-e 's|"schedule": {[^}]*}|"schedule": {"scan_interval": "1h", "jitter": "5m", "max_parallel": 16}|' \
	"$ROOT/runbooks/lab-posix-scep.json")
no_waves() { [[ $base != *'"waves"'* ]]; }
check "the runbook has no waves" no_waves
email() { # email URL PWFILE TO...: the notify section
	local to
	to=$(printf '"%s",' "${@:3}")
	printf '"notify": {"email": {"smtp": "%s", "from": "renewd@lab.test", "to": [%s], "user": "mailer", "password": {"file": "%s"}, "ca_bundle": "%s"}, "before_expiry_days": [14, 7]}' \
		"$1" "${to%,}" "$2" "$WORK/tls/server.crt"
}
mk() { # mk FILE NOTIFY [SED...]
	local f=$1 n=$2
	shift 2
	sed "s|\"notify\": {[^}]*}|$n|" <<<"$base" | sed "${@:-s|^|| }" >"$f"
}
noreload='s|"command": "/srv/renewd-lab/bin/tlsctl reload"|"command": "true"|'
mk "$WORK/starttls.json" "$(email smtp://127.0.0.1:2525 "$WORK/smtp.pw" ops@lab.test oncall@lab.test)"
mk "$WORK/noreload.json" "$(email smtp://127.0.0.1:2525 "$WORK/smtp.pw" ops@lab.test oncall@lab.test)" "$noreload"
mk "$WORK/smtps.json" "$(email smtps://127.0.0.1:4650 "$WORK/smtp.pw" pki@lab.test)"
mk "$WORK/badpw.json" "$(email smtp://127.0.0.1:2525 "$WORK/bad.pw" ops@lab.test)" "$noreload"
relay() { # relay STARTTLS: the notify section for the plain server, no login
	printf '"notify": {"email": {"smtp": "smtp://127.0.0.1:2526", "from": "renewd@lab.test", "to": ["ops@lab.test"], "starttls": %s}, "before_expiry_days": [14, 7]}' "$1"
}
mk "$WORK/notls.json" "$(relay true)" "$noreload"
mk "$WORK/relay.json" "$(relay false)" "$noreload"
check "test runbooks validate" "$RENEWD" validate "$WORK/starttls.json" "$WORK/noreload.json" "$WORK/smtps.json" "$WORK/badpw.json" "$WORK/notls.json" "$WORK/relay.json"

rd() { # rd LOGNAME JOURNAL ARGS...: renewd run inside the lab netns; exit status in $rc
	local name=$1 journal=$2
	shift 2
	rc=0
	"$LAB" exec -- "$RENEWD" run "$@" --journal "$journal" >"$WORK/$name.out" 2>"$WORK/$name.err" || rc=$?
}
n_mail() { ls "$WORK/inbox" | grep -c "^$1-" || true; }
msg() { ls "$WORK/inbox"/"$1"-*.json | while read -r f; do jq -e "$2" "$f" >/dev/null && echo "$f"; done | head -1; }
has() { # has MODE JQ-FILTER: a message of MODE matches
	[[ -n $(msg "$1" "$2") ]]
}
subj() { printf '.data | test("\\r\\nSubject: %s\\r\\n")' "$1"; }
wait_count() { # wait_count MODE N: the inbox of MODE holds N messages (mail goes async)
	local until=$((SECONDS + 10))
	while ((SECONDS < until)); do [[ $(n_mail "$1") == "$2" ]] && return 0; sleep 0.2; done
	[[ $(n_mail "$1") == "$2" ]]
}

J=$JOURNAL
# ------------------------------------------------------------- smtps://
rd smtps "$J" "$WORK/smtps.json" --host h0003
check "smtps runbook renews h0003 (exit 10), got $rc" test "$rc" = 10
check "smtps: one message (h0003's expiry)" wait_count smtps 1
check "smtps: to pki@lab.test only, from renewd@lab.test, logged in as mailer" \
	has smtps '.rcpt_tos == ["pki@lab.test"] and .mail_from == "renewd@lab.test" and .login == "mailer"'
check "smtps: subject names the host and the threshold" \
	has smtps "$(subj '\\[renewd\\] h0003: certificate expires within 7 days \\(runbook lab-posix-scep\\)')"
check "smtps: Date, Message-ID, From and To headers" \
	has smtps '.data | test("^Date: [A-Z][a-z]{2}, [0-9]{2} [A-Z][a-z]{2} 20[0-9]{2} [0-9:]{8} \\+0000\\r\\n") and test("\\r\\nMessage-ID: <[0-9a-f]{24}\\.[0-9]+\\.renewd@lab\\.test>\\r\\n") and test("\\r\\nFrom: <renewd@lab\\.test>\\r\\nTo: <pki@lab\\.test>\\r\\n")'
check "smtps: the body names host, certificate and days left" \
	has smtps '.data | test("\\r\\nHost: +h0003\\r\\n") and test("\\r\\nCertificate: +.*h0003") and test("\\r\\nDays left: +[0-9]\\.[0-9]\\r\\n") and test("\\r\\nThreshold: +7 days\\r\\n")'

# ------------------------------------------------------------- STARTTLS: a rollback
rd rollback "$J" "$WORK/noreload.json" --host h0001
check "h0001 without the reload rolls back (exit 1), got $rc" test "$rc" = 1
check "starttls: two messages (rolled back, expiry)" wait_count starttls 2
check "starttls: both to ops@ and oncall@, logged in as mailer" \
	bash -c "for f in '$WORK'/inbox/starttls-*.json; do jq -e '.rcpt_tos == [\"ops@lab.test\", \"oncall@lab.test\"] and .login == \"mailer\"' \"\$f\" >/dev/null || exit 1; done"
check "starttls: To names both recipients" has starttls '.data | test("\\r\\nTo: <ops@lab\\.test>,\\r\\n <oncall@lab\\.test>\\r\\n")'
check "starttls: subject: h0001 ROLLED_BACK" has starttls "$(subj '\\[renewd\\] h0001: ROLLED_BACK \\(runbook lab-posix-scep\\)')"
check "starttls: the body says why (the TLS check) and names the job" \
	has starttls '.data | test("\\r\\nState: +ROLLED_BACK\\r\\n") and test("\\r\\nJob: +[0-9]+\\r\\n") and test("\\r\\nError: +.*TLS check")'
check "starttls: subject: h0001's expiry" has starttls "$(subj '\\[renewd\\] h0001: certificate expires within 7 days \\(runbook lab-posix-scep\\)')"

# ------------------------------------------------------------- a plan reads the journal
# given the journal, a plan shows h0001 waiting out its backoff (as the run
# below leaves it: exit 1) and mails nothing; without it, it cannot know
plan() { rc=0; "$LAB" exec -- "$RENEWD" plan "$WORK/starttls.json" --host h0001 --json "$@" >"$WORK/plan.out" 2>"$WORK/plan.err" || rc=$?; }
plan --journal "$J"
check "plan --journal: h0001 BACKOFF, naming the rollback (exit 1), got $rc" \
	bash -c "[ $rc = 1 ] && jq -e '.jobs[0].state == \"BACKOFF\" and (.jobs[0].error | test(\"backing off until .* ended ROLLED_BACK\"))' '$WORK/plan.out' >/dev/null"
plan
check "plan without a journal: h0001 WOULD_RENEW (exit 10), got $rc" \
	bash -c "[ $rc = 10 ] && jq -e '.jobs[0].state == \"WOULD_RENEW\"' '$WORK/plan.out' >/dev/null"
sleep 1
check "the plans mailed nothing (starttls still 2)" test "$(n_mail starttls)" = 2

# ------------------------------------------------------------- once each
rd all "$J" "$WORK/starttls.json"
check "the whole runbook: h0002 renewed (exit 1: h0001 is backing off), got $rc" test "$rc" = 1
check "journal: h0002 DONE, h0001 still ROLLED_BACK" \
	test "$(jsql "select host || '=' || state from jobs where id in (select max(id) from jobs group by host) order by host" | tr '\n' ' ')" = "h0001=ROLLED_BACK h0002=DONE h0003=DONE "
check "starttls: one more message, h0002's expiry (3)" wait_count starttls 3
check "starttls: subject: h0002's expiry" has starttls "$(subj '\\[renewd\\] h0002: certificate expires within 7 days \\(runbook lab-posix-scep\\)')"
rd again "$J" "$WORK/starttls.json"
rd again-smtps "$J" "$WORK/smtps.json"
sleep 1
check "reruns mail nothing again (starttls 3, smtps 1)" test "$(n_mail starttls) $(n_mail smtps)" = "3 1"
check "no warning about mail in any run" bash -c "! grep -h 'notify' '$WORK'/{smtps,rollback,all,again,again-smtps}.err"

# ------------------------------------------------------------- a wrong password
J2=$(journal_new journal2) && J3=$(journal_new journal3) && J4=$(journal_new journal4) || { not_ok "journals"; finish; exit 1; }
rd badpw "$J2" "$WORK/badpw.json" --host h0001
check "wrong password: the rollback still ends (exit 1), got $rc" test "$rc" = 1
check "wrong password: a warning naming the server and the refused login" \
	grep -q 'warning: notify: e-mail about host h0001: ROLLED_BACK: smtp://127.0.0.1:2525: Login denied' "$WORK/badpw.err"
check "wrong password: nothing delivered" test "$(n_mail starttls)" = 3

# ------------------------------------------------------------- no STARTTLS offered
rd notls "$J3" "$WORK/notls.json" --host h0001
check "no STARTTLS offered: the rollback still ends (exit 1), got $rc" test "$rc" = 1
check "no STARTTLS offered: a warning, nothing sent in clear" \
	bash -c "grep -q 'warning: notify: e-mail about host h0001: ROLLED_BACK: smtp://127.0.0.1:2526: ' '$WORK/notls.err' && [ \$(ls '$WORK/inbox' | grep -c '^plain-') = 0 ]"
rd relay "$J4" "$WORK/relay.json" --host h0001
check "\"starttls\": false: a local relay gets both messages" wait_count plain 2

# ------------------------------------------------------------- the password is never written
jdump_at "$J" >"$WORK/journal.sql"
jdump_at "$J2" >>"$WORK/journal.sql"
for p in "$PW" "$BADPW"; do
	check "the password ${p%%-*}-… is in no output, journal nor message" \
		bash -c "! grep -rqF -- '$p' '$WORK'/*.out '$WORK'/*.err '$WORK/journal.sql' '$WORK/inbox' '$WORK'/sink-*.log"
done

if ((fail)); then
	echo "subjects received:"
	for f in "$WORK"/inbox/*.json; do printf '  %s: ' "${f##*/}"; jq -r .data "$f" | tr -d '\r' | sed -n 's/^Subject: //p'; done
fi
finish

# notify_sink.sh — sourced by the notification e2e tests (tests/e2e/mail.sh,
# serve_reload.sh): the receivers of tests/tools/notify_sink.py inside the
# lab's network namespace. Needs LAB, ROOT, WORK and PY (Debian's python3).
#
# sink_init: a certificate for 127.0.0.1 that only the runbooks' ca_bundle
# ($WORK/tls/server.crt) trusts, the inbox ($WORK/inbox), and the SMTP login's
# password in $PW, also in $WORK/smtp.pw.
# start_sink MODE PORT: starttls, smtps (login mailer / $PW) or webhook;
# returns once it listens; its pid joins SINK_PIDS (sink_stop ends them).
SINK_PIDS=()
sink_init() {
	mkdir -p "$WORK/tls" "$WORK/inbox"
	openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 -subj /CN=127.0.0.1 \
		-addext subjectAltName=IP:127.0.0.1 -keyout "$WORK/tls/server.key" -out "$WORK/tls/server.crt" 2>/dev/null
	PW="pw-$(openssl rand -hex 12)"
	printf '%s\n' "$PW" >"$WORK/smtp.pw"
	chmod 600 "$WORK/smtp.pw"
}
start_sink() {
	"$LAB" exec -- "$PY" "$ROOT/tests/tools/notify_sink.py" "$1" "$2" "$WORK/tls" "$WORK/inbox" mailer "$PW" \
		>"$WORK/sink-$1.log" 2>&1 &
	SINK_PIDS+=($!)
	local until=$((SECONDS + 20))
	while ((SECONDS < until)); do grep -q ready "$WORK/sink-$1.log" && return 0; sleep 0.2; done
	cat "$WORK/sink-$1.log" >&2
	return 1
}
sink_stop() {
	local p
	for p in "${SINK_PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
}

#!/usr/bin/env bash
# tests/e2e/monitoring.sh — contrib/monitoring/ against a running serve.
#
# The alert rules pass `promtool check rules` and their unit tests
# (`promtool test rules`); every query of the Grafana dashboard is valid
# PromQL (checked by promtool as a recording rule). Then `renewd serve`
# renews a 1-host lab and /metrics is scraped: it passes `promtool check
# metrics` (the exposition format and Prometheus' naming lint), every metric
# the rules and the dashboard use is exported with at least one sample, and
# the expiration metric is the certificate's notAfter as openssl reads it
# from the host. RENEWD_TEST_JOURNAL=pg: the journal on PostgreSQL
# (lib/journalq.sh). Prints "monitoring: N passed, M failed"; exits 77
# (skip) when it cannot run.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
TEST=monitoring
LAB_DIR_NAME=${MONITORING_LAB_DIR:-/var/lib/renewd-lab-monitoring}
LAB_NETNS=${MONITORING_LAB_NETNS:-renewd-lab-mon}
PORT=9466
# shellcheck source=lib/labtest.sh
. "$HERE/lib/labtest.sh"
MON=$ROOT/contrib/monitoring
for tool in jq promtool; do
	command -v $tool >/dev/null || { echo "$TEST: SKIP: needs $tool (contrib/deps.sh)" >&2; exit 77; }
done
WORK=$(mktemp -d /tmp/monitoring-files.XXXXXX)
trap 'rm -rf "$WORK"' EXIT

# ---------------------------------------------------------------- the files alone
check "promtool check rules" promtool check rules "$MON/renewd.rules.yml"
check "promtool test rules (the alerts fire and stay quiet as expected)" \
	bash -c "cd '$MON' && promtool test rules renewd.rules.test.yml"
check "the dashboard is JSON with panels" bash -c "jq -e '.panels | length > 0' '$MON/renewd-dashboard.json' >/dev/null"
jq -r '.panels[].targets[].expr' "$MON/renewd-dashboard.json" >"$WORK/dash.exprs"
{
	echo 'groups:'
	echo '  - name: dashboard'
	echo '    rules:'
	n=0
	while IFS= read -r e; do
		n=$((n + 1))
		printf '      - record: dashboard:q%d\n        expr: %s\n' "$n" "$(jq -Rn --arg e "$e" '$e')"
	done <"$WORK/dash.exprs"
} >"$WORK/dash.rules.yml"
check "every dashboard query is valid PromQL ($(wc -l <"$WORK/dash.exprs") queries)" \
	promtool check rules "$WORK/dash.rules.yml"
# the metric names used: rules' exprs and the dashboard's queries
{ grep -E '^\s*expr:' "$MON/renewd.rules.yml"; cat "$WORK/dash.exprs"; } |
	grep -oE 'renewd_[a-z0-9_]+' | sort -u >"$WORK/used.txt"
check "the rules and the dashboard use renewd metrics" test -s "$WORK/used.txt"

# ---------------------------------------------------------------- a running serve
files=$WORK
lab_begin 1
# shellcheck source=lib/journalq.sh
. "$HERE/lib/journalq.sh"
journal_setup
cp "$files/used.txt" "$WORK/"
rm -rf "$files"
sed "s|/var/lib/renewd-lab/|$RENEWD_LAB_DIR/|g" "$ROOT/runbooks/lab-posix-scep.json" |
	sed 's|"schedule": {[^}]*}|"schedule": {"scan_interval": "2s", "jitter": "1s"}|' >"$WORK/rb.json"
"$LAB" exec -- "$RENEWD" serve "$WORK/rb.json" --journal "$JOURNAL" --listen "127.0.0.1:$PORT" \
	>"$WORK/serve.out" 2>"$WORK/serve.err" &
DAEMON=$!
scrape() { "$LAB" exec -- curl -fsS -m 5 "http://127.0.0.1:$PORT/metrics" >"$WORK/metrics.txt" 2>/dev/null; }
sample() { grep -Eq "^$1(\{| )" "$WORK/metrics.txt"; }
# renewed, and a later scan has inventoried the new certificate (its renew window is known)
ready() { scrape && grep -q '^renewd_renewed_total{runbook="lab-posix-scep"} 1$' "$WORK/metrics.txt" &&
	sample renewd_certificate_renewal_timestamp_seconds; }
up=0
for _ in $(seq 120); do ready && { up=1; break; }; sleep 0.5; done
check "serve renews the host and a later scan inventories it" test $up = 1
check "promtool check metrics: the exposition passes Prometheus' lint" \
	bash -c "promtool check metrics <'$WORK/metrics.txt' >'$WORK/lint.txt' 2>&1"
[[ -s $WORK/lint.txt ]] && sed 's/^/  lint: /' "$WORK/lint.txt"
while read -r m; do
	base=$m
	for sfx in _bucket _sum _count; do
		b=${m%"$sfx"}
		[[ $b != "$m" ]] && grep -q "^# TYPE $b histogram$" "$WORK/metrics.txt" && base=$b
	done
	check "$m: exported by serve, with a sample" \
		bash -c "grep -q '^# TYPE $base ' '$WORK/metrics.txt' && grep -Eq '^$m(\\{| )' '$WORK/metrics.txt'"
done <"$WORK/used.txt"
end=$(openssl x509 -in "$RENEWD_LAB_DIR/hosts/h0001/root/tls/server.crt" -noout -enddate | cut -d= -f2)
want=$(date -d "$end" +%s)
got=$(awk '/^renewd_certificate_expiration_timestamp_seconds\{host="h0001",runbook="lab-posix-scep",certificate="\/srv\/renewd-lab\/tls\/server.crt"\}/ {print $2}' "$WORK/metrics.txt")
check "expiration metric = the host's certificate notAfter ($want)" test "${got:-none}" = "$want"
ren=$(awk '/^renewd_certificate_renewal_timestamp_seconds\{host="h0001"/ {print $2}' "$WORK/metrics.txt")
check "renewal timestamp = notAfter - renew_before (10 days)" test "${ren:-none}" = $((want - 10 * 86400))
check "job results: one DONE" grep -q '^renewd_job_results_total{runbook="lab-posix-scep",outcome="DONE"} 1$' "$WORK/metrics.txt"
check "SSH connects were timed" bash -c "awk '/^renewd_ssh_connect_duration_seconds_count/ {exit !(\$2 >= 1)}' '$WORK/metrics.txt'"
check "the issuer's apply was timed" grep -q '^renewd_step_duration_seconds_count{step="scep.issue",phase="apply",result="ok"} 1$' "$WORK/metrics.txt"
kill -TERM "$DAEMON"
rc=0
wait "$DAEMON" || rc=$?
DAEMON=
check "serve stops (exit 0)" test $rc = 0
finish

#!/usr/bin/env bash
# tests/e2e/report_browser.sh — the fleet report (renewd report --html and
# serve's GET /report) rendered by headless Chromium against a 3-host lab.
#
# h0001 is renewed, h0002's renewal is rolled back (its TLS check looks at a
# port nothing listens on), h0003 is left due. The page is opened in
# Chromium with a probe script added to a copy of it: the chart has one mark
# per certificate, in the order of the real certificates' expiry (read with
# openssl from each host's files), each at that expiry and coloured as the
# legend colours its state (ok, failed, due); the failed job is listed with
# its reason; the page itself has no script and loads nothing. A screenshot
# is kept (lib/browser.sh: keep_artifact). serve's GET /report answers the
# same page. RENEWD_TEST_JOURNAL=pg: the journal on PostgreSQL
# (lib/journalq.sh). Prints "report_browser: N passed, M failed"; exits 77 (skip)
# when it cannot run.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
TEST=report_browser
LAB_DIR_NAME=${REPORT_LAB_DIR:-/var/lib/renewd-lab-report}
LAB_NETNS=${REPORT_LAB_NETNS:-renewd-lab-report}
PORT=9465
# shellcheck source=lib/labtest.sh
. "$HERE/lib/labtest.sh"
# shellcheck source=lib/browser.sh
. "$HERE/lib/browser.sh"

browser_ok || { echo "$TEST: SKIP: needs chromium (contrib/deps.sh)" >&2; exit 77; }
lab_begin 3
# shellcheck source=lib/journalq.sh
. "$HERE/lib/journalq.sh"
journal_setup

J=$JOURNAL
sed "s|/var/lib/renewd-lab/|$RENEWD_LAB_DIR/|g" "$ROOT/runbooks/lab-posix-scep.json" >"$WORK/rb.json"
# the same runbook whose TLS check looks at a port nothing listens on
sed 's|"port": 443|"port": 4443|' "$WORK/rb.json" >"$WORK/badcheck.json"
grep -q '"port": 4443' "$WORK/badcheck.json" || { not_ok "the bad-check runbook"; finish; exit 1; }
rc=0
"$LAB" exec -- "$RENEWD" run "$WORK/rb.json" --host h0001 --journal "$J" >"$WORK/run1.out" 2>&1 || rc=$?
check "h0001 renewed (exit 10)" test "$rc" = 10
rc=0
"$LAB" exec -- "$RENEWD" run "$WORK/badcheck.json" --host h0002 --journal "$J" >"$WORK/run2.out" 2>&1 || rc=$?
check "h0002's renewal fails its TLS check (exit 1)" test "$rc" = 1
# the journal's inventory snapshots of the live certificates: runs that find
# nothing due (h0001 renewed; h0003 under a 1-hour renew window)
sed 's|"renew_before": "10d"|"renew_before": "1h"|' "$WORK/rb.json" >"$WORK/notdue.json"
rc=0
"$LAB" exec -- "$RENEWD" run "$WORK/rb.json" --host h0001 --journal "$J" >"$WORK/inv1.out" 2>&1 || rc=$?
check "h0001 inventoried again: not due (exit 0)" test "$rc" = 0
rc=0
"$LAB" exec -- "$RENEWD" run "$WORK/notdue.json" --host h0003 --journal "$J" >"$WORK/inv3.out" 2>&1 || rc=$?
check "h0003 inventoried: not due under a 1-hour window (exit 0)" test "$rc" = 0

# the truth: each host's certificate, read with openssl, and the journal's job states
now=$(date +%s)
: >"$WORK/truth.tsv"
for h in h0001 h0002 h0003; do
	end=$(openssl x509 -in "$RENEWD_LAB_DIR/hosts/$h/root/tls/server.crt" -noout -enddate | cut -d= -f2)
	printf '%s\t%s\n' "$(date -d "$end" +%s)" "$h" >>"$WORK/truth.tsv"
done
"$RENEWD" status --journal "$J" --json >"$WORK/status.json"
jstate() { jq -r --arg h "$1" '[.jobs[] | select(.host == $h)][0].state // "none"' "$WORK/status.json"; }
expect_state() { # the chart's state from the journal's job and the renew window (10 days)
	local h=$1 na=$2
	case $(jstate "$h") in
	FAILED | ROLLED_BACK) echo failed ;;
	NEEDS_OPERATOR) echo operator ;;
	*) if ((na <= now)); then echo expired; elif ((na - now <= 10 * 86400)); then echo due; else echo ok; fi ;;
	esac
}
: >"$WORK/expected.tsv"
sort -n "$WORK/truth.tsv" | while IFS=$'\t' read -r na h; do
	printf '%s\t%s\t%s\n' "$h" "$na" "$(expect_state "$h" "$na")" >>"$WORK/expected.tsv"
done
check "the lab has the three states: ok, failed, due" \
	test "$(cut -f3 "$WORK/expected.tsv" | sort | tr '\n' ' ')" = "due failed ok "

# ---------------------------------------------------------------- renewd report
check "renewd report --html writes the page" \
	"$RENEWD" report --html "$WORK/report.html" --journal "$J" "$WORK/rb.json"
exits() { local want=$1 rc=0; shift; "$@" >/dev/null 2>&1 || rc=$?; [[ $rc == "$want" ]]; }
check "report without --html: usage (exit 2)" exits 2 "$RENEWD" report --journal "$J"
check "report of a missing journal: exit 1, and none is created" \
	bash -c "! '$RENEWD' report --html '$WORK/x.html' --journal '$WORK/none.db' 2>/dev/null && [ ! -e '$WORK/none.db' ]"
check "report --html - writes the page to stdout" \
	bash -c "'$RENEWD' report --html - --journal '$J' >'$WORK/stdout.html' && grep -q '^<!DOCTYPE html>' '$WORK/stdout.html'"
check "the page has no script, link or external reference" \
	bash -c "! grep -Eqi '<script|<link|<iframe|<img|src=|href=|url\\(' '$WORK/report.html'"

# the probe: what Chromium rendered, as JSON in <pre id=probe>
cat >"$WORK/probe.js" <<'EOF'
<script>
(() => {
  const legend = {};
  for (const s of document.querySelectorAll('#legend > span[data-state]'))
    legend[s.dataset.state] = getComputedStyle(s.querySelector('.sw')).backgroundColor;
  const marks = [...document.querySelectorAll('svg#timeline circle.mark')].map(m => {
    const r = m.getBoundingClientRect();
    return {host: m.dataset.host, state: m.dataset.state, not_after: +m.dataset.notAfter,
            fill: getComputedStyle(m).fill, x: r.x + r.width / 2, y: r.y + r.height / 2,
            w: r.width};
  });
  const att = [...document.querySelectorAll('#attention + table tr')].map(t => t.textContent);
  const hist = [...document.querySelectorAll('#history ~ h3')].map(h => h.textContent);
  const pre = document.createElement('pre');
  pre.id = 'probe';
  pre.textContent = JSON.stringify({legend, marks, att, hist,
    bands: document.querySelectorAll('rect.band').length,
    scripts: document.scripts.length,
    external: document.querySelectorAll('[src], [href], link, iframe, img, object').length});
  document.body.appendChild(pre);
})();
</script>
EOF
sed "s|</body>|$(tr -d '\n' <"$WORK/probe.js" | sed 's/[&|]/\\&/g')</body>|" "$WORK/report.html" >"$WORK/probe.html"
browser_dom "$WORK/probe.html" "$WORK/dom.html" || not_ok "chromium --dump-dom"
sed -n 's|.*<pre id="probe">\(.*\)</pre>.*|\1|p' "$WORK/dom.html" | sed 's/&quot;/"/g; s/&lt;/</g; s/&gt;/>/g; s/&amp;/\&/g' >"$WORK/probe.json"
jqt() { jq -e "$@" "$WORK/probe.json" >/dev/null; }
check "Chromium ran the probe" jqt '.marks | type == "array"'
check "one mark per certificate (3), drawn" jqt '(.marks | length) == 3 and all(.marks[]; .w > 0)'
check "the 60/30/14-day bands are drawn" jqt '.bands == 3'
check "the page's only script is the probe; nothing external" jqt '.scripts == 1 and .external == 0'
want_order=$(cut -f1 "$WORK/expected.tsv" | paste -sd' ')
got_order=$(jq -r '[.marks[].host] | join(" ")' "$WORK/probe.json")
check "marks in expiry order of the real certificates ($want_order)" test "$got_order" = "$want_order"
check "rendered top to bottom and left to right" \
	jqt '[.marks[].y] as $y | [.marks[].x] as $x | ($y == ($y | sort)) and ($x == ($x | sort))'
while IFS=$'\t' read -r h na st; do
	check "$h: mark at the certificate's expiry ($na)" \
		jqt --arg h "$h" --argjson na "$na" '.marks[] | select(.host == $h) | .not_after == $na'
	check "$h: state $st, coloured as the legend's $st" \
		jqt --arg h "$h" --arg st "$st" '. as $p | $p.marks[] | select(.host == $h) | .state == $st and .fill == $p.legend[$st]'
done <"$WORK/expected.tsv"
check "the legend's colours differ by state" jqt '[.legend[]] | length == (unique | length)'
check "the failed job is listed with its reason" \
	jqt 'any(.att[]; test("h0002") and test("ROLLED_BACK|FAILED") and test("TLS|tls|443|connect"; "i"))'
check "history of h0001 and h0002" jqt '(.hist | index("h0001")) != null and (.hist | index("h0002")) != null'

browser_shot "$WORK/report.html" "$WORK/report.png" 1280x900 || not_ok "chromium --screenshot"
png_ok() { [[ $(head -c 8 "$1" | od -An -tx1 | tr -d ' \n') == 89504e470d0a1a0a ]] && (($(stat -c %s "$1") > 20000)); }
check "the screenshot is a PNG of some size" png_ok "$WORK/report.png"
keep_artifact "$WORK/report.png" report_browser.png || not_ok "keep the screenshot"

# ---------------------------------------------------------------- serve's GET /report
closed="daily $(date -d '+1 hour' +%H):00-$(date -d '+1 hour' +%H):30" # probes only
sed 's|"schedule": {[^}]*}|"schedule": {"scan_interval": "1h", "jitter": "0s", "window": "'"$closed"'"}|' \
	"$WORK/rb.json" >"$WORK/serve.json"
"$LAB" exec -- "$RENEWD" serve "$WORK/serve.json" --journal "$J" --listen "127.0.0.1:$PORT" \
	>"$WORK/serve.out" 2>"$WORK/serve.err" &
DAEMON=$!
get_report() {
	"$LAB" exec -- curl -fsS -m 5 -D "$WORK/head.txt" -o "$WORK/served.html" "http://127.0.0.1:$PORT/report" 2>/dev/null
}
up=0
for _ in $(seq 40); do get_report && { up=1; break; }; sleep 0.5; done
check "serve answers GET /report" test $up = 1
check "as text/html" grep -qi '^content-type: text/html' "$WORK/head.txt"
check "with the same 3 marks" test "$(grep -o '<circle class="mark"' "$WORK/served.html" | wc -l)" = 3
kill -TERM "$DAEMON"
rc=0
wait "$DAEMON" || rc=$?
DAEMON=
check "serve stops (exit 0)" test $rc = 0
finish

#!/usr/bin/env bash
# tests/e2e/hostile.sh — hostile values in runbooks reach the terminal escaped.
# No lab needed.
#
# Runbook strings with ESC sequences (colour, window title), CR, BEL, DEL,
# C1 codes (U+009B), a bidi override (U+202E), `$()`, backticks, `;|&`,
# quotes of every kind (smart quotes included) and 70 KB values, in the
# runbook's name, description, paths, step names, step types, parameters,
# commands and unknown keys:
#  1. `renewd validate` reports them (exit 2) and its output holds no raw
#     control byte and no C1 code: every one prints as \xNN;
#  2. a valid runbook with the same values validates, and `renewd plan` on
#     it (its one host refuses the connection) prints no raw control byte;
#     nothing ran: no file named by `$()` appeared.
#  3. the file name itself may be hostile.
#  4. On a one-host lab (as root; the lab is why): a config file whose path
#     holds `$(touch ...)`, backticks, `;|&`, every quote and the terminal
#     tricks, and step names with ESC: plan and run print them escaped, the
#     run updates that very file (the path is data, byte-exact) and no
#     command in it ever ran on the target. Then a certificate whose subject
#     and SAN carry the terminal tricks: inventory, doctor, plan, status and
#     the HTML report print them escaped (--json keeps them as data).
# RENEWD_TEST_JOURNAL=pg: section 4's journal on PostgreSQL (lib/journalq.sh).
# Prints "hostile: N passed, M failed".
set -uo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
RENEWD=${RENEWD_BIN:-$ROOT/build/renewd}
export RENEWD_PLUGINS=${RENEWD_PLUGINS:-$(dirname "$RENEWD")/plugins}
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1}
pass=0 fail=0
check() { local d=$1; shift; if "$@"; then pass=$((pass + 1)); echo "ok   - $d"; else fail=$((fail + 1)); echo "FAIL - $d"; fi; }
command -v jq >/dev/null || { echo "hostile: SKIP: needs jq (contrib/deps.sh installs it)"; exit 77; }
[[ -x $RENEWD ]] || { echo "hostile: $RENEWD not built (set RENEWD_BIN)" >&2; exit 2; }
WORK=$(mktemp -d /tmp/hostile.XXXXXX)
trap 'rm -rf "$WORK"' EXIT

ESC=$'\033' CR=$'\r' BEL=$'\a' DEL=$'\177' C1=$'\xc2\x9b' RLO=$'\xe2\x80\xae'
PWNED=$WORK/pwned
# one string with every terminal trick, one with every shell trick
TERM_S="x${ESC}[31mRED${ESC}]0;title${BEL}${CR}over${DEL}${C1}31m${RLO}rev"
SHELL_S="\$(touch $PWNED) \`touch $PWNED\`; touch $PWNED | cat & “smart” ‘single’ \"double\" 'plain'"
BIG=$(head -c 70000 /dev/zero | tr '\0' A)

# raw: control bytes but TAB and LF, or a C1 code in UTF-8, or U+202E
raw_bytes() { LC_ALL=C grep -c -P '[\x00-\x08\x0b-\x1f\x7f]|\xc2[\x80-\x9f]|\xe2\x80\xae' "$1"; }
no_raw() { local n; n=$(raw_bytes "$1"); [[ $n == 0 ]] || { echo "     $n line(s) with raw bytes in $1:"; LC_ALL=C grep -n -P '[\x00-\x08\x0b-\x1f\x7f]|\xc2[\x80-\x9f]|\xe2\x80\xae' "$1" | cut -c1-200 | cat -v | sed 's/^/     | /' | head -5; return 1; }; }

runbook() { # runbook VALID(0/1) > file
	jq -n --arg t "$TERM_S" --arg sh "$SHELL_S" --arg big "$BIG" --argjson valid "$1" '
	def bad(s): if $valid == 1 then "" else s end;
	{name: ("hostile" + bad($t)),
	 description: ($big + $t + $sh),
	 targets: {hosts: [{name: "h1", address: "127.0.0.1", port: 1}]},
	 ssh: {user: "ops", identity: "/nonexistent/id", known_hosts: "/nonexistent/kh", connect_timeout: "2s"},
	 certificate: {cert: ("/srv/" + $t + "/server.crt"), key: ("/srv/" + $sh + "/server.key")},
	 issuer: {type: "scep", url: "http://127.0.0.1:1/scep",
	          ca_fingerprint: ("sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef" + bad($t))},
	 policy: {renew_before: ("10d" + bad($t))},
	 steps: [{type: ("posix.service" + bad($t)), name: ($t + $sh), params: {command: $sh}},
	         {type: "posix.config_thumbprint", name: ($t + "ct"), params: {file: ("/etc/" + $big + $t), format: ("sha1" + bad($t))}},
	         {type: "posix.service", name: "svc", params: ({command: ($sh + $t)} + if $valid == 1 then {} else {("bad" + $t): 1} end)}]}
	+ if $valid == 1 then {} else {("unknown" + $t): 1} end'
}

# ------------------------------------------------------------- 1. validate
runbook 0 >"$WORK/bad.json"
check "the hostile runbook is $(($(wc -c <"$WORK/bad.json") / 1024)) KB, with raw ESC in it" grep -q -P '\x1b' <(jq -r .description "$WORK/bad.json")
rc=0; timeout 30 "$RENEWD" validate "$WORK/bad.json" >"$WORK/validate.out" 2>&1 || rc=$?
check "validate rejects it (exit 2), got $rc" test "$rc" = 2
check "validate reports the hostile values (7 diagnostics)" test "$(grep -c "^$WORK/bad.json:" "$WORK/validate.out")" -ge 7
check "validate output holds no raw control byte" no_raw "$WORK/validate.out"
check "validate shows ESC as \\x1b and CR as \\x0d" grep -q -F 'x\x1b[31mRED\x1b]0;title\x07\x0dover\x7f\xc2\x9b31m\xe2\x80\xaerev' "$WORK/validate.out"

# ------------------------------------------------------------- 2. plan
runbook 1 >"$WORK/good.json"
rc=0; timeout 30 "$RENEWD" validate "$WORK/good.json" >"$WORK/vgood.out" 2>&1 || rc=$?
check "the same values where they are data validate (exit 0), got $rc" test "$rc" = 0
check "validate output holds no raw control byte" no_raw "$WORK/vgood.out"
rc=0; timeout 60 "$RENEWD" plan "$WORK/good.json" >"$WORK/plan.out" 2>&1 || rc=$?
check "plan fails on the refused host (exit 1), got $rc" test "$rc" = 1
check "plan output holds no raw control byte" no_raw "$WORK/plan.out"
rc=0; timeout 60 "$RENEWD" plan "$WORK/good.json" --json >"$WORK/plan.json" 2>"$WORK/plan.err" || rc=$?
is_report() { jq -e .jobs "$1" >/dev/null; }
check "plan --json is one JSON document" is_report "$WORK/plan.json"
check "plan --json stderr holds no raw control byte" no_raw "$WORK/plan.err"
check "nothing ran: no \$() or backtick took effect" test ! -e "$PWNED"

# ------------------------------------------------------------- 3. file name
HF="$WORK/run${ESC}[2J${CR}book.json"
cp "$WORK/bad.json" "$HF"
rc=0; timeout 30 "$RENEWD" validate "$HF" >"$WORK/fname.out" 2>&1 || rc=$?
check "a hostile file name: validate exits 2, got $rc" test "$rc" = 2
check "its name is escaped in every diagnostic" no_raw "$WORK/fname.out"
check "it shows as run\\x1b[2J\\x0dbook.json" grep -q -F 'run\x1b[2J\x0dbook.json:' "$WORK/fname.out"
cp "$WORK/good.json" "$HF"
rc=0; timeout 30 "$RENEWD" validate "$HF" >"$WORK/fname-ok.out" 2>&1 || rc=$?
check "and in validate's ok line" no_raw "$WORK/fname-ok.out"

# ------------------------------------------------------------- 4. lab
if [[ $(id -u) != 0 ]]; then
	echo "     (section 4 needs root: the lab uses network namespaces)"
else
	LAB=$ROOT/contrib/lab/lab
	export RENEWD_LAB_DIR=${HOSTILE_LAB_DIR:-/var/lib/renewd-lab-hostile}
	export RENEWD_LAB_NETNS=${HOSTILE_LAB_NETNS:-renewd-lab-hostile}
	trap '"$LAB" down --purge >/dev/null 2>&1 || true; rm -rf "$WORK"' EXIT
	"$LAB" down --purge >/dev/null 2>&1 || true
	if ! "$LAB" up --hosts 1 >"$WORK/up.log" 2>&1; then
		fail=$((fail + 1)); echo "FAIL - lab up"; sed 's/^/     | /' "$WORK/up.log" | tail -20
	else
		# shellcheck disable=SC1091
		. "$RENEWD_LAB_DIR/lab.env"
		JOURNAL=$WORK/journal.db
		# shellcheck source=lib/journalq.sh
		. "$HERE/lib/journalq.sh"
		journal_setup
		T=$RENEWD_LAB_DIR/hosts/h0001/root # /srv/renewd-lab on h0001
		M=/srv/renewd-lab
		CONF="$M/etc/\$(touch $M/pwned1) \`touch $M/pwned2\`; touch $M/pwned3 | cat & “smart” ‘single’ \"double\" 'plain' ${TERM_S}.conf"
		mkdir -p "$(dirname "$T${CONF#"$M"}")"
		cp "$T/etc/app.conf" "$T${CONF#"$M"}"
		sed "s|/var/lib/renewd-lab/|$RENEWD_LAB_DIR/|g" "$ROOT/runbooks/lab-posix-scep.json" |
			jq --arg t "$TERM_S" --arg sh "$SHELL_S" --arg conf "$CONF" '
			.description += $t + $sh
			| .steps |= map(if .name == "app.conf sha1" then .params.file = $conf | .name += $t
			                elif .name == "key ACL" then .name += $t + $sh else . end)' >"$WORK/lab.json"
		lrd() { local name=$1; shift; rc=0; "$LAB" exec -- "$RENEWD" "$@" </dev/null >"$WORK/$name.out" 2>"$WORK/$name.err" || rc=$?; }
		lrd lplan plan "$WORK/lab.json"
		check "lab: plan of the hostile runbook exits 10 (would renew), got $rc" test "$rc" = 10
		check "lab: the probe found the config by its hostile path" \
			grep -q -F 'sha1 in /srv/renewd-lab/etc/$(touch /srv/renewd-lab/pwned1) `touch /srv/renewd-lab/pwned2`; touch /srv/renewd-lab/pwned3 | cat & “smart” ‘single’ "double" '"'plain'"' x\x1b[31mRED' "$WORK/lplan.out"
		check "lab: plan's output holds no raw control byte" no_raw "$WORK/lplan.out"
		check "lab: plan's warnings hold no raw control byte" no_raw "$WORK/lplan.err"
		old_sha1=$(openssl x509 -in "$T/tls/server.crt" -noout -fingerprint -sha1 | cut -d= -f2 | tr -d : | tr A-F a-f)
		lrd lrun run "$WORK/lab.json" --journal "$JOURNAL"
		check "lab: run renews (exit 10), got $rc" test "$rc" = 10
		check "lab: run's output holds no raw control byte" no_raw "$WORK/lrun.out"
		check "lab: run's warnings hold no raw control byte" no_raw "$WORK/lrun.err"
		new_sha1=$(openssl x509 -in "$T/tls/server.crt" -noout -fingerprint -sha1 | cut -d= -f2 | tr -d : | tr A-F a-f)
		check "lab: the file at the hostile path now pins the new SHA-1 (the path is data)" \
			grep -q "^cert_sha1 = $new_sha1\$" "$T${CONF#"$M"}"
		check "lab: a new certificate" test "$new_sha1" != "$old_sha1"
		check "lab: no \$(), backtick or ; in the path ran on the target" \
			test -z "$(find "$T" -maxdepth 1 -name 'pwned*')"
		check "lab: no file with a near name appeared" \
			test "$(find "$T/etc" -name '*.conf' | wc -l)" = 2

		# a hostile certificate on the target: its subject and SAN carry the
		# terminal tricks (signed by the lab CA for the live key, due in 2
		# days); every verb that shows it prints it escaped
		openssl req -new -key "$T/tls/server.key" -utf8 -subj "/CN=h0001${TERM_S//\//}/O=x${ESC}[2J" \
			-out "$WORK/hostile.csr" 2>/dev/null
		printf 'subjectAltName=DNS:h0001,DNS:a%sb\n' "${ESC}[5m" >"$WORK/hostile.ext"
		openssl x509 -req -in "$WORK/hostile.csr" -CA "$LAB_CA_CERT" -CAkey "${LAB_CA_CERT%/*}/ca.key" \
			-passin pass: -days 2 -set_serial 0x777 -extfile "$WORK/hostile.ext" -out "$T/tls/server.crt" 2>/dev/null
		lrd linv inventory "$WORK/lab.json" --journal "$JOURNAL"
		check "lab: inventory of a hostile certificate (exit 0), got $rc" test "$rc" = 0
		lrd linvj inventory "$WORK/lab.json" --json
		check "lab: inventory --json keeps the subject byte for byte (JSON escapes it)" \
			jq -e --arg e "${ESC}[31mRED" '[.. | strings | select(contains($e))] | length > 0' "$WORK/linvj.out" >/dev/null
		lrd ldoc doctor "$WORK/lab.json"
		lrd lplan2 plan "$WORK/lab.json"
		lrd lstat status --journal "$JOURNAL"
		lrd lstat2 status --all --journal "$JOURNAL"
		lrd lrep report --html - --journal "$JOURNAL"
		for v in linv ldoc lplan2 lstat lstat2 lrep; do
			check "lab: $v with a hostile subject and SAN: no raw control byte (stdout)" no_raw "$WORK/$v.out"
			check "lab: $v with a hostile subject and SAN: no raw control byte (stderr)" no_raw "$WORK/$v.err"
		done
		check "lab: the subject shows, escaped" grep -q 'CN=h0001x\\1B\[31mRED' "$WORK/linv.out"
	fi
fi

if grep -Eq 'LeakSanitizer|runtime error|handles left open' "$WORK"/*.out "$WORK"/*.err 2>/dev/null; then
	fail=$((fail + 1)); echo "FAIL - a sanitizer or handle report"; grep -E 'LeakSanitizer|runtime error|handles left open' "$WORK"/*.out | head
fi
printf 'hostile: %d passed, %d failed\n' "$pass" "$fail"
((fail == 0))

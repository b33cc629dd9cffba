#!/usr/bin/env bash
# tests/e2e/cli_exits.sh — the binary's ways out when there is nothing to do
# or the operator mistyped: each exits 2 with a sentence that names the
# option or the host, and leaves nothing behind (no "handles left open", no
# leak: check.sh runs this with the ASan+UBSan build and detect_leaks=1, whose
# leak report would turn exit 2 into a failure). What `validate` says of a
# good runbook of one and of several certificates; an operator's typing
# mistakes; every verb's --help. No lab needed.
# Prints "cli_exits: N passed, M failed".
set -uo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
RENEWD=${RENEWD_BIN:-$ROOT/build/renewd}
export RENEWD_PLUGINS=${RENEWD_PLUGINS:-$(dirname "$RENEWD")/plugins}
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1}
pass=0 fail=0
check() { local d=$1; shift; if "$@"; then pass=$((pass + 1)); echo "ok   - $d"; else fail=$((fail + 1)); echo "FAIL - $d"; fi; }
WORK=$(mktemp -d /tmp/cli_exits.XXXXXX)
trap 'rm -rf "$WORK"' EXIT
RB=$ROOT/tests/fixtures/runbooks/good/inventory-all.json

# expect CODE PATTERN -- ARGS...: exit CODE, stderr+stdout match PATTERN, and
# nothing left open or leaked
expect() {
	local want=$1 pat=$2 rc=0
	shift 3
	timeout 30 "$RENEWD" "$@" >"$WORK/out" 2>&1 </dev/null || rc=$?
	if [[ $rc != "$want" ]]; then echo "     renewd $*: exit $rc, wanted $want"; sed 's/^/     | /' "$WORK/out" | head -20; return 1; fi
	if ! grep -Eq -- "$pat" "$WORK/out"; then echo "     renewd $*: no '$pat' in:"; sed 's/^/     | /' "$WORK/out" | head -20; return 1; fi
	if grep -Eq 'handles left open|LeakSanitizer|runtime error' "$WORK/out"; then sed 's/^/     | /' "$WORK/out" | head -30; return 1; fi
}

check "plan --host nope: exit 2, names the filter, nothing left open or leaked" \
	expect 2 "none of the --host names is a target" -- plan --host nope "$RB"
check "run --host nope --whatif: the same" \
	expect 2 "none of the --host names is a target" -- run --whatif --host nope "$RB"
check "run --max-parallel x: exit 2, names the option and the range" \
	expect 2 "max-parallel.*'x'.*whole number" -- run --max-parallel x "$RB"
check "plan --max-parallel 0: out of range" \
	expect 2 "max-parallel.*'0'" -- plan --max-parallel 0 "$RB"
check "serve --listen 127.0.0.1:80x: exit 2, names the address" \
	expect 2 "listen.*80x" -- serve --listen 127.0.0.1:80x "$RB"
check "serve --max-parallel x: exit 2" \
	expect 2 "max-parallel.*'x'" -- serve --max-parallel x "$RB"
check "plan on a missing runbook: exit 2, names the file" \
	expect 2 "$WORK/missing.json" -- plan "$WORK/missing.json"
# plan reads the journal it is given and never creates one: a journal not
# there yet is said and the plan goes on; a PostgreSQL URI holding a
# password is refused without being echoed
check "plan --journal FILE not there: said, planned without it" \
	expect 2 "journal $WORK/none/journal.db: .*planned without it" -- plan --journal "$WORK/none/journal.db" --host nope "$RB"
check "... and nothing was created" test ! -e "$WORK/none"
check "plan --journal with a password in it: refused, the password not shown" \
	expect 2 "renewd plan: journal" -- plan --journal "postgresql://u:hunter2@127.0.0.1:1/db" "$RB"
check "... not shown" bash -c "! grep -q hunter2 '$WORK/out'"

# validate's ok line counts the certificates and every step; a runbook of
# several certificates lists each one's steps, then the host-level ones.
# lines FILE: $WORK/out is exactly FILE (the ok line's file name elided)
lines() { sed 's/^[^ ]*: ok/X: ok/' "$WORK/out" | diff -u "$1" - >&2; }
printf '%s\n' 'X: ok (1 target, 2 certificates, renewed together, 8 steps)' \
	'  certificate cep-encryption: 2 steps: NDES service account reads the key, remove superseded certificates' \
	'  certificate enrollment-agent: 2 steps: NDES service account reads the key, remove superseded certificates' \
	'  host-level, once after them: 4 steps: iisreset, restart the certificate connector, load NDES (GetCACaps), NDES started (Event 1)' \
	>"$WORK/pair.want"
check "validate on the NDES pair: exit 0, each certificate with its steps, then the host-level ones" \
	expect 0 "ok \(1 target, 2 certificates" -- validate "$ROOT/runbooks/windows-ndes-ra-pair.json"
check "  exactly those lines" lines "$WORK/pair.want"
# the two-certificate POSIX example on an inline host (its inventory is the lab's)
jq '.targets = {"hosts": [{"name": "web1", "address": "127.0.0.1"}]}' \
	"$ROOT/runbooks/lab-posix-two-certs.json" >"$WORK/two.json"
printf '%s\n' 'X: ok (1 target, 2 certificates, each when due, 6 steps)' \
	'  certificate rsa: 2 steps: key ACL, prune backups' \
	'  certificate ecdsa: 2 steps: key ACL, prune backups' \
	'  host-level, once after them: 2 steps: reload nginx, TLS check (ECDSA) [for ecdsa]' \
	>"$WORK/two.want"
check "validate on the two POSIX certificates: the check bound to one names it" \
	expect 0 "ok \(1 target, 2 certificates, each when due" -- validate "$WORK/two.json"
check "  exactly those lines" lines "$WORK/two.want"
check "validate on one 'certificate': one ok line counting it" \
	expect 0 "ok \(1 target, 1 certificate, 5 steps\)$" -- validate "$ROOT/runbooks/windows-ndes-ra.json"
check "  and no more" test "$(wc -l <"$WORK/out")" = 1

# An operator's typing mistakes: each answer names the thing and the fix.
check "a misspelt verb: the verb meant" \
	expect 2 "unknown verb 'plna'; did you mean 'plan'\\?" -- plna "$RB"
check "a misspelt long option: the option meant" \
	expect 2 "renewd plan: unknown option '--hosts'; did you mean '--host'\\?" -- plan --hosts h1 "$RB"
check "an option without its value says so (not 'unknown')" \
	expect 2 "renewd run: option '--journal' needs a value" -- run "$RB" --journal
check "a flag given a value says it takes none" \
	expect 2 "renewd serve: option '--once' takes no value" -- serve --once=3 "$RB"
check "an unknown short option is named alone" \
	expect 2 "renewd plan: unknown option '-x'" -- plan -nx "$RB"
check "hosts without a subcommand names the one there is" \
	expect 2 "renewd hosts: name what to do; the one subcommand is 'trust'" -- hosts
check "hosts trust without --runbook says why it is needed" \
	expect 2 "renewd hosts trust: --runbook R is required" -- hosts trust h1
check "validate on a directory: name the files" \
	expect 2 "$ROOT/runbooks/: is a directory; name the runbook files in it \\(e.g. $ROOT/runbooks/\\*.json\\)" \
	-- validate "$ROOT/runbooks/"
check "validate without a runbook says so" expect 2 "renewd validate: no runbook given" -- validate
echo '{"name": "x"}' >"$WORK/bare.json"
check "a runbook without its issuer: what the key is for, with the types" \
	expect 2 "missing required key 'issuer' in the top level: who issues the new certificate: .*\"acme\" or \"manual\"" \
	-- validate "$WORK/bare.json"
check "  and without ssh: an example" \
	expect 2 "missing required key 'ssh' in the top level: how renewd logs in, e.g. \\{\"user\"" \
	-- validate "$WORK/bare.json"

# Every verb's --help: exit 0, usage, an example whose runbooks are shipped.
helps() {
	local v ex f
	for v in run plan doctor validate status inventory remediate serve report hosts debug; do
		"$RENEWD" "$v" --help >"$WORK/help" 2>&1 || { echo "     $v --help: exit $?"; return 1; }
		grep -q '^usage: renewd' "$WORK/help" || { echo "     $v --help: no usage line"; return 1; }
		ex=$(grep '^example: renewd ' "$WORK/help") || { echo "     $v --help: no example"; return 1; }
		for f in $(grep -o 'runbooks/[A-Za-z0-9._-]*\.json' <<<"$ex"); do
			[[ -e $ROOT/$f ]] || { echo "     $v --help: the example's $f is not shipped"; return 1; }
		done
	done
}
check "each verb's --help has a usage line and an example naming shipped runbooks" helps
check "debug --help lists its subcommands" expect 0 "renewd debug hostkey \\[--connect-ms N\\] HOST" -- debug --help
printf 'cli_exits: %d passed, %d failed\n' "$pass" "$fail"
[[ $fail == 0 ]]

#!/usr/bin/env bash
# tests/e2e/cli_exits.sh — the binary's ways out when there is nothing to do
# or the operator mistyped: each exits 2 with a sentence that names the
# option or the host, and leaves nothing behind (no "handles left open", no
# leak: check.sh runs this with the ASan+UBSan build and detect_leaks=1, whose
# leak report would turn exit 2 into a failure). No lab needed.
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
printf 'cli_exits: %d passed, %d failed\n' "$pass" "$fail"
[[ $fail == 0 ]]

#!/usr/bin/env bash
# tests/e2e/examples_current.sh — docs/examples/ is what renewd would show
# now: the examples are regenerated into a temp dir by the unit test that
# writes them (test_windows_examples, the plan of every shipped Windows
# runbook against the simulated target) and compared with the committed
# ones. A difference means a script, a step kind or a runbook changed
# without contrib/examples.sh being run; the diff says where.
# env: RENEWD_BIN (its directory is the build tree), RENEWD_SOURCE.
set -uo pipefail
src=${RENEWD_SOURCE:-$(cd "$(dirname "$0")/../.." && pwd)}
bin=${RENEWD_BIN:-$src/build/renewd}
unit=$(cd "$(dirname "$bin")" && pwd)/test_windows_examples
[ -x "$unit" ] || { echo "examples_current: no $unit (build the tests first)" >&2; exit 2; }
work=$(mktemp -d "${TMPDIR:-/tmp}/renewd-examples.XXXXXX")
trap 'rm -rf "$work"' EXIT
if ! RENEWD_EXAMPLES_OUT=$work CK_FORK=no "$unit" >"$work/unit.log" 2>&1; then
	echo "FAIL test_windows_examples could not write the examples:"; sed 's/^/    /' "$work/unit.log"
	echo "examples_current: 0 passed, 1 failed"; exit 1
fi
rm -f "$work/unit.log"
n=$(find "$work" -name '*.txt' | wc -l)
if diff -r -x README.md "$src/docs/examples" "$work" >"$work.diff" 2>&1; then
	echo "ok   the $n examples in docs/examples are current"
	rm -f "$work.diff"; echo "examples_current: 1 passed, 0 failed"; exit 0
fi
echo "FAIL docs/examples is stale: run contrib/examples.sh and commit the result:"
head -40 "$work.diff" | sed 's/^/    /'
rm -f "$work.diff"
echo "examples_current: 0 passed, 1 failed"; exit 1

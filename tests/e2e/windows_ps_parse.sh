#!/usr/bin/env bash
# windows_ps_parse.sh — every PowerShell script the windows plugin sends to
# a target must parse. The unit test test_windows_plugin (test case
# ps_texts) builds each one with orchestrator/transport/remote.c exactly as renewd
# sends it (the prelude, lib.ps1 and the script, decoded back from
# -EncodedCommand or the upload) and writes it to BUILD/ps/, plus the
# script the adcs.issue scheduled task runs as SYSTEM; this test runs that
# case, then parses every file with tree-sitter-powershell
# (tests/tools/ps-parse.mjs) and fails on any ERROR or MISSING node.
# Negative controls: copies of built scripts broken three ways (a
# here-string left open, a closing brace dropped, a string left open) must
# be reported with FILE:LINE:COLUMN.
# env: RENEWD_BIN (the renewd binary; its directory is the build tree),
#      RENEWD_SOURCE (the source tree).
set -uo pipefail
src=${RENEWD_SOURCE:-$(cd "$(dirname "$0")/../.." && pwd)}
bin=${RENEWD_BIN:-$src/build/renewd}
build=$(cd "$(dirname "$bin")" && pwd)
unit=$build/test_windows_plugin
pass=0 fail=0
ok() { pass=$((pass + 1)); echo "ok   $*"; }
bad() { fail=$((fail + 1)); echo "FAIL $*"; }

[ -x "$unit" ] || { echo "windows_ps_parse: no $unit (build the tests first)" >&2; exit 2; }
command -v node >/dev/null || { echo "windows_ps_parse: node is missing; run contrib/deps.sh" >&2; exit 2; }
if [ ! -f "$src/tests/tools/node_modules/tree-sitter-powershell/tree-sitter-powershell.wasm" ] ||
   [ ! -d "$src/tests/tools/node_modules/web-tree-sitter" ]; then
	bash "$src/contrib/tests-deps.sh" || { echo "windows_ps_parse: contrib/tests-deps.sh failed" >&2; exit 2; }
fi
parse="node $src/tests/tools/ps-parse.mjs"
work=$(mktemp -d "${TMPDIR:-/tmp}/renewd-wps.XXXXXX")
trap 'rm -rf "$work"' EXIT

# the texts, fresh
rm -rf "$build/ps"
if CK_RUN_CASE=ps_texts "$unit" >"$work/unit.log" 2>&1; then
	ok "test_windows_plugin wrote the scripts"
else
	bad "test_windows_plugin ps_texts failed:"; sed 's/^/    /' "$work/unit.log"
fi
texts=()
for f in "$build"/ps/*.ps1; do [ -f "$f" ] && texts+=("$f"); done
if [ "${#texts[@]}" -ge 19 ]; then
	ok "${#texts[@]} scripts to parse"
else
	bad "only ${#texts[@]} scripts in $build/ps (expected at least 19)"
fi
for name in adcs.task adcs.task_inner adcs.new windows.store.list windows.registry.set; do
	[ -f "$build/ps/$name.ps1" ] || bad "missing $name.ps1"
done

if [ "${#texts[@]}" -gt 0 ] && $parse "${texts[@]}" >"$work/parse.log" 2>&1; then
	ok "tree-sitter-powershell parses all ${#texts[@]} scripts"
else
	bad "parse errors:"; sed 's/^/    /' "$work/parse.log"
fi

# negative controls: each must be reported
neg() { # NAME SOURCE SED-PROGRAM [APPEND]
	local name=$1 from=$2 prog=$3 extra=${4:-}
	[ -f "$from" ] || { bad "negative control $name: no $from"; return; }
	sed -e "$prog" "$from" >"$work/$name.ps1"
	[ -n "$extra" ] && printf '%s\n' "$extra" >>"$work/$name.ps1"
	if cmp -s "$from" "$work/$name.ps1"; then
		bad "negative control $name: the edit changed nothing"
	elif $parse "$work/$name.ps1" >"$work/$name.log" 2>&1; then
		bad "negative control $name was not reported"
	elif grep -q "$name.ps1:[0-9]*:[0-9]*: " "$work/$name.log"; then
		ok "negative control $name reported: $(grep -m1 ': ' "$work/$name.log" | sed 's|.*/||')"
	else
		bad "negative control $name: unexpected output: $(cat "$work/$name.log")"
	fi
}
neg open-herestring "$build/ps/adcs.task.ps1" "/^'@\$/d"
neg dropped-brace "$build/ps/windows.registry.set.ps1" '0,/^  }$/{/^  }$/d}'
neg open-string "$build/ps/windows.store.list.ps1" '' '$x = "never closed'

echo "windows_ps_parse: $pass passed, $fail failed"
[ "$fail" = 0 ]

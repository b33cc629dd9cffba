#!/usr/bin/env bash
# tests/e2e/windows_contrib.sh — what contrib/windows hands a Windows admin
# must be sound before anyone runs it: the checker script parses
# (tree-sitter-powershell, tests/tools/ps-parse.mjs), is ASCII (Windows
# PowerShell 5.1 reads a BOM-less file in the ANSI code page) and only reads
# (no cmdlet that changes the machine: the verbs below); the two runbooks
# validate against the built plugins. A negative control (a brace dropped)
# must be reported, so the parse check can fail.
# env: RENEWD_BIN, RENEWD_PLUGINS, RENEWD_SOURCE.
set -uo pipefail
src=${RENEWD_SOURCE:-$(cd "$(dirname "$0")/../.." && pwd)}
bin=${RENEWD_BIN:-$src/build/renewd}
export RENEWD_PLUGINS=${RENEWD_PLUGINS:-$(dirname "$bin")/plugins}
pass=0 fail=0
ok() { pass=$((pass + 1)); echo "ok   $*"; }
bad() { fail=$((fail + 1)); echo "FAIL $*"; }
ps1=$src/contrib/windows/renewd-check.ps1

command -v node >/dev/null || { echo "windows_contrib: node is missing; run contrib/deps.sh" >&2; exit 2; }
if [ ! -f "$src/tests/tools/node_modules/tree-sitter-powershell/tree-sitter-powershell.wasm" ] ||
   [ ! -d "$src/tests/tools/node_modules/web-tree-sitter" ]; then
	bash "$src/contrib/tests-deps.sh" || { echo "windows_contrib: contrib/tests-deps.sh failed" >&2; exit 2; }
fi
parse="node $src/tests/tools/ps-parse.mjs"
work=$(mktemp -d "${TMPDIR:-/tmp}/renewd-wcontrib.XXXXXX")
trap 'rm -rf "$work"' EXIT

if $parse "$ps1" >"$work/parse.log" 2>&1; then ok "renewd-check.ps1 parses"
else bad "renewd-check.ps1 does not parse:"; sed 's/^/    /' "$work/parse.log"; fi
if LC_ALL=C grep -qn '[^[:print:][:space:]]' "$ps1"; then bad "renewd-check.ps1 is not ASCII"
else ok "renewd-check.ps1 is ASCII"; fi
# read-only: none of the verbs that change a machine, except the -OutFile write
changes() { # FILE: the lines that would change the machine
	grep -nE '\b(Set|Remove|New|Add|Clear|Rename|Move|Copy|Restart|Stop|Start|Register|Unregister|Install|Uninstall|Import-PfxCertificate|Export)-[A-Z]' "$1" |
		grep -vE 'Set-StrictMode|Set-Content -LiteralPath \$OutFile|Add-Type|New-Object|Add-WindowsCapability -Online -Name OpenSSH'
}
if changes "$ps1" >"$work/verbs"; then
	bad "renewd-check.ps1 uses a verb that changes the machine:"; sed 's/^/    /' "$work/verbs"
else ok "renewd-check.ps1 only reads (and writes -OutFile)"; fi
{ cat "$ps1"; echo 'Remove-Item -LiteralPath C:\x'; } >"$work/writes.ps1"
if changes "$work/writes.ps1" >/dev/null; then ok "negative control: a Remove-Item is reported"
else bad "negative control: a Remove-Item was not reported"; fi
if grep -q 'certreq\.exe -\(new\|submit\|accept\)\|certutil\.exe -\(delstore\|repairstore\|addstore\)' "$ps1"; then
	bad "renewd-check.ps1 runs a certreq/certutil verb that changes something"
else ok "renewd-check.ps1 runs no certreq/certutil verb that changes something"; fi

if "$bin" validate "$src"/contrib/windows/*.json >"$work/validate.log" 2>&1; then
	ok "contrib/windows runbooks validate"
else bad "contrib/windows runbooks:"; sed 's/^/    /' "$work/validate.log"; fi

# negative control: the first closing brace of a function dropped
sed '0,/^}$/{/^}$/d}' "$ps1" >"$work/dropped-brace.ps1"
if cmp -s "$ps1" "$work/dropped-brace.ps1"; then bad "negative control: the edit changed nothing"
elif $parse "$work/dropped-brace.ps1" >"$work/neg.log" 2>&1; then bad "negative control was not reported"
else ok "negative control reported: $(grep -m1 ': ' "$work/neg.log" | sed 's|.*/||')"; fi

echo "windows_contrib: $pass passed, $fail failed"
[ "$fail" = 0 ]

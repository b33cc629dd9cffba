#!/usr/bin/env bash
# windows_pester.sh — the Pester suite of the Windows scripts
# (tests/windows/pester: each script exactly as renewd builds it, run in the
# PowerShell engine under strict mode with the Windows boundary mocked, and
# the Windows PowerShell 5.1 gate), run by renewd-pshost. The scripts come
# fresh from test_windows_plugin (case ps_texts, as windows_ps_parse.sh).
# Mutation controls: the suite must fail on a copy of the scripts with a
# validation loosened (reg_lib's \z back to $), with a PowerShell 7
# operator added (??) and with a parameter run as code (iis_lib).
# env: RENEWD_BIN (its directory is the build tree), RENEWD_SOURCE.
set -uo pipefail
src=${RENEWD_SOURCE:-$(cd "$(dirname "$0")/../.." && pwd)}
bin=${RENEWD_BIN:-$src/build/renewd}
build=$(cd "$(dirname "$bin")" && pwd)
unit=$build/test_windows_plugin
pass=0 fail=0
ok() { pass=$((pass + 1)); echo "ok   $*"; }
bad() { fail=$((fail + 1)); echo "FAIL $*"; }
command -v dotnet >/dev/null || { echo "windows_pester: dotnet is missing; run contrib/deps.sh" >&2; exit 2; }
[ -x "$unit" ] || { echo "windows_pester: no $unit (build the tests first)" >&2; exit 2; }
t0=$(date +%s)
H=$(bash "$src/tests/windows/build.sh") || { echo "windows_pester: cannot build the host" >&2; exit 2; }
t1=$(date +%s)
work=$(mktemp -d "${TMPDIR:-/tmp}/renewd-pester.XXXXXX")
trap 'rm -rf "$work"' EXIT
pester() { # BUILT-DIR [FILTER]: runs the suite, output in $work/pester.log
	"$H" -NoProfile -NonInteractive -File "$src/tests/windows/run-pester.ps1" "$@" >"$work/pester.log" 2>&1
}

rm -rf "$build/ps"
if CK_RUN_CASE=ps_texts "$unit" >"$work/unit.log" 2>&1; then
	ok "test_windows_plugin wrote the scripts renewd sends"
else
	bad "test_windows_plugin ps_texts failed:"; sed 's/^/    /' "$work/unit.log"
fi

# the Windows batch loader, next to them (Batch.Tests.ps1)
CK_RUN_CASE=ps_texts "$build/test_remote_win" >>"$work/unit.log" 2>&1 && ok "test_remote_win wrote the Windows batch loader" ||
	{ bad "test_remote_win ps_texts failed:"; sed 's/^/    /' "$work/unit.log"; }

# the acme plugin's Windows scripts, next to them (Acme.Tests.ps1 reads BUILD/ps-acme)
rm -rf "$build/ps-acme"
CK_RUN_CASE=ps_texts "$build/test_acme_windows" >>"$work/unit.log" 2>&1 && ok "test_acme_windows wrote the acme scripts renewd sends" ||
	{ bad "test_acme_windows ps_texts failed:"; sed 's/^/    /' "$work/unit.log"; }

pester "$build/ps"
rc=$?
t2=$(date +%s)
sed -n '/^\[-\]/,/^ at /p' "$work/pester.log" | head -200
line=$(grep -E '^pester: [0-9]+ passed, [0-9]+ failed$' "$work/pester.log" | tail -1)
pn=0 pf=0
[[ $line =~ ^pester:\ ([0-9]+)\ passed,\ ([0-9]+)\ failed$ ]] && pn=${BASH_REMATCH[1]} pf=${BASH_REMATCH[2]}
if [ "$rc" = 0 ] && [ -n "$line" ]; then
	ok "the Pester suite: ${line#pester: }"
else
	bad "the Pester suite (exit $rc): ${line:-no summary}"; tail -20 "$work/pester.log" | sed 's/^/    /'
fi

# mutation controls: each copy must make the suite fail
mutant() { # NAME SCRIPT SED-PROGRAM FILTER
	local name=$1 script=$2 prog=$3 filter=$4
	rm -rf "$work/m" && cp -r "$build/ps" "$work/m"
	sed -i -e "$prog" "$work/m/$script.ps1"
	if cmp -s "$build/ps/$script.ps1" "$work/m/$script.ps1"; then
		bad "mutant $name: the edit changed nothing"
	elif pester "$work/m" "$filter"; then
		bad "mutant $name: the suite passed"
	elif grep -qE '^pester: [0-9]+ passed, [1-9][0-9]* failed$' "$work/pester.log"; then
		ok "mutant $name: $(grep -E '^pester: ' "$work/pester.log" | tail -1)"
	else
		bad "mutant $name: no failed tests counted: $(tail -3 "$work/pester.log")"
	fi
}
mutant 'reg_lib anchors with $' windows.registry.set 's/\[^\\r\\n\]+\\z/[^\\r\\n]+$/' '*rdw_regpath*'
mutant 'a ?? in store_list' windows.store.list '$a $x = $null ?? 1' '*5.1 lacks*'
mutant 'iis_lib runs the site name as code' windows.iis.read 's/^  \$site = \[string\]\$P.site$/  $site = [string]$P.site; $null = \& ([scriptblock]::Create("'"'"'" + $site + "'"'"'"))/' 'hostile values*'

echo "windows_pester: host build $((t1 - t0)) s, suite $((t2 - t1)) s"
echo "windows_pester: $pass checks passed, $fail failed; Pester tests $pn passed, $pf failed"
echo "windows_pester: $((pass + pn)) passed, $((fail + pf)) failed"
[ "$fail" = 0 ]

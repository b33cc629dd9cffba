#!/usr/bin/env bash
# powershell_parse.sh — the PowerShell that renewd sends to Windows targets
# must parse. Builds commands through `renewd debug psbuild` (remote.c's
# prelude + a script, decoded back from -EncodedCommand or the upload),
# adds the texts the unit tests wrote to BUILD/ps-texts/, and parses them
# all with tree-sitter-powershell (tests/tools/ps-parse.mjs). Negative
# controls: a broken script and one that closes the prelude's try block
# must be reported.
# env: RENEWD_BIN (the renewd binary), RENEWD_SOURCE (the source tree).
set -uo pipefail
src=${RENEWD_SOURCE:-$(cd "$(dirname "$0")/../.." && pwd)}
bin=${RENEWD_BIN:-$src/build/renewd}
build=$(dirname "$bin")
pass=0 fail=0
ok() { pass=$((pass + 1)); echo "ok   $*"; }
bad() { fail=$((fail + 1)); echo "FAIL $*"; }

[ -x "$bin" ] || { echo "powershell_parse: no renewd binary at $bin (set RENEWD_BIN)" >&2; exit 2; }
command -v node >/dev/null || { echo "powershell_parse: node is missing; run contrib/deps.sh" >&2; exit 2; }
if [ ! -f "$src/tests/tools/node_modules/tree-sitter-powershell/tree-sitter-powershell.wasm" ] ||
   [ ! -d "$src/tests/tools/node_modules/web-tree-sitter" ]; then
	bash "$src/contrib/tests-deps.sh" || { echo "powershell_parse: contrib/tests-deps.sh failed" >&2; exit 2; }
fi
parse="node $src/tests/tools/ps-parse.mjs"
work=$(mktemp -d "${TMPDIR:-/tmp}/renewd-ps.XXXXXX")
trap 'rm -rf "$work"' EXIT

cat >"$work/probe.ps1" <<'PS'
$thumb = $P.thumbprint
$cert = Get-ChildItem -Path Cert:\LocalMachine\My | Where-Object { $_.Thumbprint -eq $thumb }
if (-not $cert) { rd_fail "certificate $thumb not found" }
$key = $cert.PrivateKey
$acl = @(foreach ($r in (Get-Acl -LiteralPath "$env:ProgramData\Microsoft\Crypto\Keys").Access) {
  @{ who = [string]$r.IdentityReference; rights = [string]$r.FileSystemRights }
})
rd_out @{ subject = $cert.Subject; notAfter = $cert.NotAfter.ToString('o'); acl = $acl; quote = 'it''s' }
PS
cat >"$work/herestring.ps1" <<'PS'
# “smart quotes”, a here-string and nested script blocks
$inf = @"
[Version]
Signature="`$Windows NT`$"
[NewRequest]
RenewalCert="$($P.thumbprint)"
MachineKeySet=TRUE
"@
$path = Join-Path $env:TEMP ('renewd-' + [guid]::NewGuid().ToString('N') + '.inf')
Set-Content -LiteralPath $path -Value $inf -Encoding ASCII
try {
  $out = & certreq.exe -q -new $path 2>&1 | Out-String
  switch -Regex ($out) {
    'Taken Under Submission' { rd_out @{ state = 'pending' } }
    default { rd_out @{ state = 'issued'; text = $out } }
  }
} finally { Remove-Item -LiteralPath $path -Force -ErrorAction SilentlyContinue }
PS
{ cat "$work/probe.ps1"; for i in $(seq 1 250); do echo "# padding line $i to pass cmd.exe's 8191-character limit"; done; } >"$work/big.ps1"
printf '%s\n' '{"thumbprint": "AB'"'"'CD\"$(x)`n", "subject": "CN=“x”; rm -rf / #"}' >"$work/params.json"

# negative controls
printf 'if ($x -eq 1) { Write-Output "unterminated\n' >"$work/broken.ps1"
printf 'Write-Output 1\n}\nWrite-Output 2\n' >"$work/escape.ps1"

texts=()
for s in probe herestring big; do
	if out=$("$bin" debug psbuild --script "$work/$s.ps1" --name "windows.$s" --params-json "$work/params.json" --out "$work/$s.built.ps1"); then
		mode=$(printf '%s' "$out" | sed -n 's/.*"mode":"\([a-z]*\)".*/\1/p')
		if [ "$s" = big ] && [ "$mode" != upload ]; then bad "psbuild $s: expected upload mode, got '$mode'"; continue; fi
		if [ "$s" != big ] && [ "$mode" != encoded ]; then bad "psbuild $s: expected encoded mode, got '$mode'"; continue; fi
		grep -qF "$(head -n 1 "$work/$s.ps1")" "$work/$s.built.ps1" && ok "psbuild $s ($mode) carries the script" ||
			bad "psbuild $s: script text not found in the built command"
		texts+=("$work/$s.built.ps1")
	else
		bad "psbuild $s failed"
	fi
done
for f in "$build"/ps-texts/*.ps1; do [ -f "$f" ] && texts+=("$f"); done

if $parse "${texts[@]}" >"$work/parse.log" 2>&1; then
	ok "tree-sitter-powershell parses ${#texts[@]} built scripts"
else
	bad "parse errors:"; sed 's/^/    /' "$work/parse.log"
fi

for s in broken escape; do
	"$bin" debug psbuild --script "$work/$s.ps1" --name "windows.$s" --out "$work/$s.built.ps1" >/dev/null ||
		{ bad "psbuild $s failed"; continue; }
	if $parse "$work/$s.built.ps1" >"$work/$s.log" 2>&1; then
		bad "negative control $s was not reported"
	elif grep -q "$s.built.ps1:[0-9]*:[0-9]*: " "$work/$s.log"; then
		ok "negative control $s reported: $(grep -m1 ': ' "$work/$s.log" | sed 's|.*/||')"
	else
		bad "negative control $s: unexpected output: $(cat "$work/$s.log")"
	fi
done

echo "powershell_parse: $pass passed, $fail failed"
[ "$fail" = 0 ]

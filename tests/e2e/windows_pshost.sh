#!/usr/bin/env bash
# windows_pshost.sh — renewd-pshost (tests/windows/host), the powershell.exe
# of the emulated Windows host, keeps powershell.exe's command line, exit
# code and stream rules (tests/windows/README.md, [rule N]): each case runs
# the host and checks its exit code, stdout and stderr. Last, a script that
# renewd really builds (`renewd debug psbuild`, parameters on stdin) runs
# both ways renewd sends it: -EncodedCommand and an uploaded -File; a
# command line as Windows OpenSSH runs it (--ssh-command: cmd.exe /c and the
# C runtime's argument rules); hostile parameters that must run nothing.
# env: RENEWD_BIN, RENEWD_SOURCE (as every e2e test).
set -uo pipefail
src=${RENEWD_SOURCE:-$(cd "$(dirname "$0")/../.." && pwd)}
bin=${RENEWD_BIN:-$src/build/renewd}
pass=0 fail=0
ok() { pass=$((pass + 1)); echo "ok   $*"; }
bad() { fail=$((fail + 1)); echo "FAIL $*"; }
command -v dotnet >/dev/null || { echo "windows_pshost: dotnet is missing; run contrib/deps.sh" >&2; exit 2; }
[ -x "$bin" ] || { echo "windows_pshost: no $bin (build renewd first)" >&2; exit 2; }
H=$(bash "$src/tests/windows/build.sh") || { echo "windows_pshost: cannot build the host" >&2; exit 2; }
work=$(mktemp -d "${TMPDIR:-/tmp}/renewd-pshost.XXXXXX")
trap 'rm -rf "$work"' EXIT
enc() { printf '%s' "$1" | iconv -f UTF-8 -t UTF-16LE | base64 -w0; }

# case NAME WANT-RC WANT-STDOUT WANT-STDERR-REGEX -- HOST-ARGS... (stdin: $IN)
IN=
case_() {
	local name=$1 rc=$2 out=$3 errre=$4
	shift 5
	printf '%s' "$IN" | "$H" "$@" >"$work/out" 2>"$work/err"
	local got=$?
	if [ "$got" != "$rc" ]; then
		bad "$name: exit $got, want $rc (stderr: $(head -c 300 "$work/err"))"
	elif [ "$(cat "$work/out")" != "$out" ]; then
		bad "$name: stdout [$(head -c 300 "$work/out")], want [$out]"
	elif ! grep -Eq -- "$errre" "$work/err" && ! { [ -z "$errre" ] && [ ! -s "$work/err" ]; }; then
		bad "$name: stderr [$(head -c 300 "$work/err")] does not match [$errre]"
	else
		ok "$name"
	fi
}
E() { printf -- '-NoProfile -NonInteractive -EncodedCommand %s' "$(enc "$1")"; }
# shellcheck disable=SC2046
{
case_ "exit N is the exit code" 7 hi '' -- $(E '"hi"; exit 7')
case_ "last statement failed: 1" 1 '' 'boom' -- $(E 'Write-Error boom')
case_ "an earlier failure does not count: 0" 0 after 'boom' -- $(E 'Write-Error boom; "after"')
case_ "a terminating error: 1, message on stderr" 1 '' 'tboom' -- $(E 'throw "tboom"; "after"')
case_ "strict mode: an unset variable is an error" 1 '' 'has not been set' -- $(E '$ErrorActionPreference = "Stop"; $x = $nope; "after"')
case_ "strict mode: a missing property is an error" 1 '' 'cannot be found' -- $(E '$ErrorActionPreference = "Stop"; $o = New-Object PSObject; $o.nope')
case_ "exit inside a function inside try/finally" 3 fin 'fail' -- $(E 'function f { [Console]::Error.WriteLine("fail"); exit 3 }; try { f } finally { "fin" }')
case_ "warning and verbose lines go to stdout" 0 $'WARNING: w\nVERBOSE: v\n2' '' -- $(E 'Write-Warning w; Write-Verbose v -Verbose; 1+1')
case_ "reading the host fails (NonInteractive)" 1 '' 'NonInteractive mode' -- $(E '$ErrorActionPreference = "Stop"; Read-Host')
case_ "abbreviated parameters (-nop -noni -enc)" 0 abbr '' -- -nop -noni -enc "$(enc '"abbr"')"
case_ "a bad -EncodedCommand" 64 '' 'Base64' -- -EncodedCommand '***'
case_ "an unknown parameter" 64 '' 'not a known parameter' -- -Bogus
IN='"from stdin"; exit 4'
case_ "script on stdin (-Command -)" 4 'from stdin' '' -- -NoProfile -Command -
case_ "script on stdin (no command)" 4 'from stdin' '' -- -NoProfile
IN=aGVsbG8=
case_ "stdin stays the script's with -EncodedCommand" 0 hello '' -- $(E '[Console]::Out.Write([Text.Encoding]::UTF8.GetString([Convert]::FromBase64String([Console]::In.ReadToEnd().Trim())))')
IN=
}
printf 'param($a, $b)\n"$a|$b"; exit 5\n' >"$work/args.ps1"
case_ "-File: arguments, exit N" 5 'x y|z' '' -- -NoProfile -File "$work/args.ps1" 'x y' z
printf 'throw "filethrow"\n"not reached"\n' >"$work/throw.ps1"
case_ "-File: a terminating error is 1" 1 '' 'filethrow' -- -File "$work/throw.ps1"
printf 'Write-Error nonterm\n' >"$work/err.ps1"
case_ "-File: a non-terminating error is still 0" 0 '' 'nonterm' -- -File "$work/err.ps1"
case_ "-File: a missing file is 64" 64 '' 'does not exist' -- -File "$work/none.ps1"
mkdir -p "$work/root/c/Windows/Temp"
printf '"mapped"\n' >"$work/root/c/Windows/Temp/m.ps1"
RENEWD_WIN_ROOT=$work/root case_ "-File: C:\\ maps onto RENEWD_WIN_ROOT/c" 0 mapped '' -- -File 'C:\Windows\Temp\m.ps1'
mkdir -p "$work/root/c/Windows/System32" && : >"$work/root/c/Windows/System32/iisreset.exe"
RENEWD_WIN_ROOT=$work/root case_ "emulation module: %windir% and the C: drive" 0 $'C:\\Windows\nTrue\nFalse' '' -- \
	$(E '$env:windir; Test-Path -LiteralPath (Join-Path $env:windir "System32\iisreset.exe"); Test-Path -LiteralPath "C:\Windows\System32\nope.exe"')

# [rule 12] a command line as Windows OpenSSH runs it: cmd.exe /c, then the
# C runtime's argument splitting (renewd-pshost --ssh-command LINE)
case_ "ssh: powershell.exe by its full path" 5 '' '' -- --ssh-command \
	'C:\Windows\System32\WindowsPowerShell\v1.0\powershell.exe -NoProfile -Command "exit 5"'
case_ "ssh: quotes, \\\" and \"\" split as the C runtime splits them" 0 $'a\\\\b"c\nx"y' '' -- --ssh-command \
	'powershell -NoProfile -Command Write-Output "'"'"'a\\b\"c'"'"'" "'"'"'x""y'"'"'"'
case_ "ssh: renewd's -EncodedCommand line" 0 enc '' -- --ssh-command "powershell.exe $(E '"enc"')"
case_ "ssh: & outside quotes is refused" 1 '' "does not interpret '&'" -- --ssh-command 'powershell.exe -Command 1 & calc'
case_ "ssh: %NAME% is refused" 1 '' "does not interpret '%'" -- --ssh-command 'powershell.exe -Command "%PATH%"'
# cmd.exe's ERRORLEVEL 9009, as a Linux exit status (9009 & 255 = 49)
case_ "ssh: another program is not recognized" 49 '' 'is not recognized as an internal or external command' -- \
	--ssh-command 'cmd.exe /c dir'

# a real renewd script: reg_read's rdw_regpath rejects the key before any
# registry access: exit 3, the message on stderr, nothing on stdout
printf '%s\n' '{"key": "HKCU\\Software\\x", "value": "v"}' >"$work/p.json"
cat "$src/plugins/windows/ps/lib.ps1" "$src/plugins/windows/ps/reg_lib.ps1" \
	"$src/plugins/windows/ps/reg_read.ps1" >"$work/reg.ps1"
if "$bin" debug psbuild --script "$work/reg.ps1" --out "$work/built.ps1" --name windows.registry.read \
	--params-json "$work/p.json" >"$work/psbuild.json" 2>"$work/psbuild.err"; then
	IN=$(printf '%s' '{"key":"HKCU\\Software\\x","value":"v"}' | base64 -w0)
	case_ "built reg_read (-EncodedCommand): rd_fail exits 3" 3 '' "registry key 'HKCU.Software.x' is not HKLM" \
		-- -NoProfile -NonInteractive -EncodedCommand "$(iconv -f UTF-8 -t UTF-16LE "$work/built.ps1" | base64 -w0)"
	mkdir -p "$work/root/c/Windows/Temp"
	{ printf '\357\273\277'; cat "$work/built.ps1"; } >"$work/root/c/Windows/Temp/renewd-windows.registry.read-0011223344556677.ps1"
	RENEWD_WIN_ROOT=$work/root case_ "built reg_read (uploaded -File): rd_fail exits 3" 3 '' "is not HKLM" \
		-- -NoProfile -NonInteractive -ExecutionPolicy Bypass -File 'C:\Windows\Temp\renewd-windows.registry.read-0011223344556677.ps1'
	if [ ! -e "$work/root/c/Windows/Temp/renewd-windows.registry.read-0011223344556677.ps1" ]; then
		ok "the uploaded script deleted itself"
	else
		bad "the uploaded script is still there"
	fi
	IN=
else
	bad "renewd debug psbuild failed: $(cat "$work/psbuild.err")"
fi

# hostile values (every quote, U+2018/U+2019/U+201C/U+201D, $(), backticks,
# here-string markers, CR/LF, 70 KB) reach the script unchanged as data and
# run nothing: the prelude's JSON parameters on stdin, as renewd sends them
# (base64 of ASCII-escaped JSON). Rejected with a newline (echoed back
# exactly); accepted without one, and carried to the registry lookup.
marker=$work/marker
if ! [ -f "$work/built.ps1" ]; then
	bad "no built reg_read for the hostile values"
elif command -v python3 >/dev/null; then
	hostile() { # KEY-SUFFIX -> the stdin line
		MARK=$marker SUF=$1 python3 -c '
import base64, json, os
m = os.environ["MARK"]
v = "HKLM\\SOFTWARE\\x" + "\x27\"\u2018\u2019\u201c\u201d$(New-Item -ItemType File -Path " + m + ")`$(touch " + m + ")@\x27" + os.environ["SUF"]
print(base64.b64encode(json.dumps({"key": v + "y" * 70000, "value": "v$(New-Item " + m + ")"}).encode()).decode())'
	}
	cmdline=(-NoProfile -NonInteractive -EncodedCommand "$(iconv -f UTF-8 -t UTF-16LE "$work/built.ps1" | base64 -w0)")
	IN=$(hostile $'\n\x27@')
	case_ "hostile key with a newline: refused, echoed unchanged" 3 '' \
		"^registry key 'HKLM.SOFTWARE.x'\"‘’“”[$][(]New-Item -ItemType File -Path $marker[)]\`[$][(]touch $marker[)]@'\$" -- "${cmdline[@]}"
	IN=$(hostile '')
	case_ "hostile key without one: looked up as data" 0 '{"key_exists":false,"exists":false,"kind":null,"text":null,"hex":null}' '' -- "${cmdline[@]}"
	IN=
	if [ -e "$marker" ]; then bad "a hostile value ran code: $marker exists"; else ok "no hostile value ran code"; fi
else
	bad "python3 is missing (it encodes the hostile parameters)"
fi

echo "windows_pshost: $pass passed, $fail failed"
[ "$fail" = 0 ]

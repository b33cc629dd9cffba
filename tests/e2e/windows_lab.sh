#!/usr/bin/env bash
# windows_lab.sh — the lab's emulated Windows host (contrib/lab/winhost:
# sshd whose sessions run renewd-pshost as Windows OpenSSH runs a command,
# SFTP with Windows paths) reached by the real renewd over real SSH.
#
# Brings up its own 1-host lab (own directory and netns) and `lab win up`,
# then: command lines through sshd (cmd.exe's and the C runtime's rules,
# exit codes), renewd's own -EncodedCommand line (`renewd debug exec`),
# SFTP uploads to C:\Windows\Temp (/C:/… and renewd's C:\…), the emulated
# Cert:\LocalMachine (Remove-Item with and without -DeleteKey), the
# registry, service and event scripts as renewd builds them against the
# emulated HKLM:, service manager (iisreset included) and event log, and
# `renewd inventory` of every shipped Windows runbook (the NDES pair,
# v1 templates named in the certificate; SCOM, IIS, SQL Server, ConfigMgr,
# v2 templates named by X509Extension.Format()) finding the certificates issued by an
# OpenSSL CA, CAPI and CNG keys, the store script uploaded and run with
# -File, the machine unchanged afterwards; `renewd doctor` of the NDES RA
# runbook (what the emulation cannot pass named with its fix, read only).
# Needs root. Prints "windows_lab: N passed, M failed".
set -uo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
LAB=$ROOT/contrib/lab/lab
RENEWD=${RENEWD_BIN:-$ROOT/build/renewd}
export RENEWD_PLUGINS=${RENEWD_PLUGINS:-$(dirname "$RENEWD")/plugins}
export RENEWD_LAB_DIR=${WINLAB_DIR:-/var/lib/renewd-lab-win}
export RENEWD_LAB_NETNS=${WINLAB_NETNS:-renewd-lab-win}
# shellcheck source=lib/winhost.sh
. "$HERE/lib/winhost.sh"

pass=0 fail=0
ok()  { pass=$((pass + 1)); printf 'ok   - %s\n' "$*"; }
bad() { fail=$((fail + 1)); printf 'FAIL - %s\n' "$*"; }
finish() { printf 'windows_lab: %d passed, %d failed\n' "$pass" "$fail"; ((fail == 0)); }

[[ $(id -u) == 0 ]] || { echo "windows_lab: SKIP: needs root (network namespaces, sshd)"; exit 77; }
[[ -x $RENEWD ]] || { echo "windows_lab: $RENEWD not built (set RENEWD_BIN)" >&2; exit 2; }
command -v dotnet >/dev/null || { echo "windows_lab: dotnet is missing; run contrib/tests-deps.sh" >&2; exit 2; }
bash "$ROOT/tests/windows/build.sh" >/dev/null || { echo "windows_lab: cannot build the host" >&2; exit 2; }

WORK=$(mktemp -d /tmp/windows_lab.XXXXXX)
cleanup() {
	"$LAB" down --purge >/dev/null 2>&1 || true
	rm -rf "$WORK" "/tmp/rdm$$"
}
trap cleanup EXIT
t0=$(date +%s)
"$LAB" down --purge >/dev/null 2>&1 || true
if ! "$LAB" up --hosts 1 --tls 0 --no-enroll >"$WORK/up.log" 2>&1 || ! "$LAB" win up --fresh >>"$WORK/up.log" 2>&1; then
	bad "lab up + lab win up:"; sed 's/^/    /' "$WORK/up.log"
	finish; exit 1
fi
ok "lab up --hosts 1, lab win up ($(($(date +%s) - t0)) s)"
# shellcheck disable=SC1091
. "$RENEWD_LAB_DIR/lab.env"
W=$LAB_DIR/win
WR=$W/root
ADDR=$("$LAB" win addr)
KH=$W/known_hosts
inns() { ip netns exec "$LAB_NETNS" "$@"; }
wssh() { inns ssh -q -i "$LAB_KEY" -o UserKnownHostsFile="$KH" -o StrictHostKeyChecking=yes -o BatchMode=yes "$LAB_USER@$ADDR" "$@"; }
enc() { printf '%s' "$1" | iconv -f UTF-8 -t UTF-16LE | base64 -w0; }

# ---------------------------------------------------------------- sessions
out=$(wssh 'powershell.exe -NoProfile -Command "$env:windir; exit 5"' 2>&1); rc=$?
if [[ $rc == 5 && $out == 'C:\Windows' ]]; then ok "ssh: powershell.exe -Command, exit 5, %windir%"; else bad "ssh -Command: rc $rc, [$out]"; fi
out=$(wssh 'powershell.exe -Command 1 & calc' 2>&1); rc=$?
if [[ $rc == 1 && $out == *"does not interpret '&'"* ]]; then ok "ssh: & outside quotes is not run"; else bad "ssh &: rc $rc, [$out]"; fi
out=$(wssh 'ls -la /' 2>&1); rc=$?
if [[ $rc == 49 && $out == *"is not recognized"* ]]; then ok "ssh: a POSIX command is not recognized (9009)"; else bad "ssh ls: rc $rc, [$out]"; fi
inns "$RENEWD" debug exec --known-hosts "$KH" --identity "$LAB_KEY" --user "$LAB_USER" "$ADDR" -- \
	"powershell.exe -NoProfile -NonInteractive -EncodedCommand $(enc '[Console]::Out.Write("enc|" + $PSVersionTable.PSEdition); exit 7')" \
	>"$WORK/exec.json" 2>"$WORK/exec.err"
if jq -e '.exit == 7 and .stdout == "enc|Core"' "$WORK/exec.json" >/dev/null; then
	ok "renewd debug exec: -EncodedCommand, exit 7, stdout"
else
	bad "renewd debug exec: $(cat "$WORK/exec.json" "$WORK/exec.err")"
fi

# ---------------------------------------------------------------- SFTP
printf 'param($a)\n"uploaded $a"\n' >"$WORK/up.ps1"
cat >"$WORK/sftp.batch" <<'EOF'
put up.ps1 /C:/Windows/Temp/a.ps1
put up.ps1 /C:/Windows/Temp/b.ps1
-rename /C:/Windows/Temp/a.ps1 /C:/Windows/Temp/b.ps1
put up.ps1 /C:/Windows/Temp/../../../../x.ps1
EOF
(cd "$WORK" && inns sftp -q -b sftp.batch -i "$LAB_KEY" -o UserKnownHostsFile="$KH" "$LAB_USER@$ADDR") >"$WORK/sftp.log" 2>&1
# (the OpenSSH client sends only /C:/…; renewd's C:\… is the inventory below)
if [[ -f $WR/c/Windows/Temp/a.ps1 && -f $WR/c/Windows/Temp/b.ps1 ]]; then
	ok "sftp: /C:/… lands on the emulated C: drive"
else
	bad "sftp uploads: $(cd "$WR" && find . -name '*.ps1') $(cat "$WORK/sftp.log")"
fi
if grep -q 'rename.*Failure' "$WORK/sftp.log" && [[ -f $WR/c/Windows/Temp/a.ps1 ]]; then ok "sftp: rename onto an existing file fails"; else bad "sftp rename: $(cat "$WORK/sftp.log")"; fi
if [[ -f $WR/c/x.ps1 ]] && ! find "$LAB_DIR" -maxdepth 2 -name x.ps1 | grep -q .; then ok "sftp: .. stops at C:\\"; else bad "sftp ..: $(find "$LAB_DIR" -name x.ps1)"; fi
out=$(wssh 'powershell.exe -NoProfile -File C:\Windows\Temp\a.ps1 xyz' 2>&1)
if [[ $out == 'uploaded xyz' ]]; then ok "ssh: -File C:\\Windows\\Temp\\a.ps1 runs the upload"; else bad "-File upload: [$out]"; fi
rm -f "$WR/c/Windows/Temp/a.ps1" "$WR/c/Windows/Temp/b.ps1" "$WR/c/x.ps1"

# ---------------------------------------------------------------- the CA and the certificates
CA=$WORK/ca
mkdir -p "$CA"
openssl req -x509 -newkey rsa:2048 -nodes -keyout "$CA/ca.key" -out "$CA/ca.pem" -days 3650 -subj "/CN=Corp Issuing CA" 2>/dev/null
issue() { # NAME TEMPLATE DAYS [V2-OID]: $CA/NAME.{key,pem} (win_issue), CN $SUBJ or NAME
	win_issue "$CA" "$CA/$1" "${SUBJ:-$1}" "$2" "$3" "${4:-}"
}
issue NDES01-MSCEP-RA CEPEncryption 30
issue NDES01-EEA EnrollmentAgentOffline 20
T_CEP=$(win_seed_cert "$WR" My "$CA/NDES01-MSCEP-RA.pem" "$CA/NDES01-MSCEP-RA.key" capi 'CEP-RA-container')
T_EEA=$(win_seed_cert "$WR" My "$CA/NDES01-EEA.pem" "$CA/NDES01-EEA.key" cng 'EEA-RA-container')
win_seed_cert "$WR" Root "$CA/ca.pem" >/dev/null
# v2 templates: the machine knows their names (emu/templates: what
# X509Extension.Format() renders), except the last one's
V2=1.3.6.1.4.1.311.21.8.4242.7
issue scomgw01 OperationsManagerCertificate 25 $V2.1
issue web01 ConfigMgrWebServerCertificates 25 $V2.2
# hostile: every quote, U+2018/U+2019/U+201C/U+201D, $(), backticks,
# here-string markers in the subject of the SQL Server certificate
# (a CN holds 64 characters: a short marker; run as the lab account, New-Item
# or touch would create it in /tmp)
MARK=/tmp/rdm$$
HOSTILE="sql01'\"‘’“”\$(ni $MARK)\`\$(touch $MARK)@'\"@\$env:x"
SUBJ=$HOSTILE issue sql01 SQLServerTLS 25 $V2.3
issue ndes01-client ConfigMgrClientCertificate 25 $V2.4
issue unknown-template ConfigMgrClientCertificate 25 $V2.5
printf '%s\n' "$V2.1 OperationsManagerCertificate" "$V2.2 ConfigMgrWebServerCertificates" "$V2.3 SQLServerTLS" \
	"$V2.4 ConfigMgrClientCertificate" >"$WR/emu/templates"
T_SCOM=$(win_seed_cert "$WR" My "$CA/scomgw01.pem" "$CA/scomgw01.key" capi scom-c)
T_WEB=$(win_seed_cert "$WR" My "$CA/web01.pem" "$CA/web01.key" cng web-c)
T_SQL=$(win_seed_cert "$WR" My "$CA/sql01.pem" "$CA/sql01.key" capi sql-c)
T_CM=$(win_seed_cert "$WR" My "$CA/ndes01-client.pem" "$CA/ndes01-client.key" capi cm-c)
win_seed_cert "$WR" My "$CA/unknown-template.pem" "$CA/unknown-template.key" capi unk-c >/dev/null
chown -R "$LAB_USER" "$WR"

# ---------------------------------------------------------------- Cert:\LocalMachine
out=$(wssh "powershell.exe -NoProfile -Command \"@(Get-ChildItem -Path Cert:\\LocalMachine\\My | ForEach-Object { \$_.Thumbprint + ':' + \$_.HasPrivateKey + ':' + \$_.GetType().Name }) -join ','\"" 2>&1)
want="$(for t in "$WR"/emu/cert/LocalMachine/My/*.cer; do t=${t##*/}; printf '%s:True:X509Certificate2\n' "${t%.cer}"; done | sort | paste -sd,)"
if [[ $out == "$want" ]]; then ok "Cert:\\LocalMachine\\My lists X509Certificate2s with their keys"; else bad "Cert: list: [$out], want [$want]"; fi
# Remove-Item keeps the key unless -DeleteKey (about_Certificate_Provider)
issue TMP1 CEPEncryption 5
T_TMP=$(win_seed_cert "$WR" My "$CA/TMP1.pem" "$CA/TMP1.key" capi 'tmp-container')
kf=$WR/c/ProgramData/Microsoft/Crypto/$(sed -n 6p "$WR/emu/cert/LocalMachine/My/$T_TMP.keyprov" | tr '\\' /)
chown -R "$LAB_USER" "$WR"
wssh "powershell.exe -NoProfile -Command \"Remove-Item -LiteralPath Cert:\\LocalMachine\\My\\$T_TMP\"" >/dev/null 2>&1
if [[ ! -e $WR/emu/cert/LocalMachine/My/$T_TMP.cer && -f $kf ]]; then ok "Remove-Item: the certificate goes, its key file stays"; else bad "Remove-Item without -DeleteKey"; fi
win_seed_cert "$WR" My "$CA/TMP1.pem" "$CA/TMP1.key" capi 'tmp-container' >/dev/null
chown -R "$LAB_USER" "$WR"
wssh "powershell.exe -NoProfile -Command \"Remove-Item -LiteralPath Cert:\\LocalMachine\\My\\$T_TMP -DeleteKey\"" >/dev/null 2>&1
if [[ ! -e $WR/emu/cert/LocalMachine/My/$T_TMP.cer && ! -e $kf ]]; then ok "Remove-Item -DeleteKey: the key file goes too"; else bad "Remove-Item -DeleteKey"; fi

# ---------------------------------------------------------------- HKLM:
# reg_read / reg_set exactly as renewd builds them (`renewd debug psbuild`),
# sent as renewd sends them (-EncodedCommand, the parameters as base64 JSON
# on stdin) to the emulated HKLM: SCOM's ChannelCertificateSerialNumber
# (REG_BINARY) set to the reversed serial, then found already set; a
# stale expectation is a mismatch; a REG_SZ carries a hostile value.
# psbuild NAME SCRIPT...: the script (lib.ps1 + SCRIPTs) as renewd builds it, in $WORK/NAME.ps1
psbuild() {
	local name=$1 f
	shift
	for f in lib "$@"; do cat "$ROOT/plugins/windows/ps/$f.ps1"; done >"$WORK/$name.src"
	echo '{}' >"$WORK/p.json"
	"$RENEWD" debug psbuild --script "$WORK/$name.src" --out "$WORK/$name.ps1" --name "$name" \
		--params-json "$WORK/p.json" >/dev/null 2>"$WORK/psbuild.err" || bad "psbuild $name: $(cat "$WORK/psbuild.err")"
}
# wrun NAME PARAMS-JSON: runs it as renewd does -> $out (stdout), $rc, $WORK/run.err
wrun() {
	jq -c . <<<"$2" | tr -d '\n' | base64 -w0 | wssh "powershell.exe -NoProfile -NonInteractive -EncodedCommand $(iconv -f UTF-8 -t UTF-16LE "$WORK/$1.ps1" | base64 -w0)" >"$WORK/run.out" 2>"$WORK/run.err"
	rc=$?
	out=$(cat "$WORK/run.out")
}
psbuild reg_read reg_lib reg_read
psbuild reg_set reg_lib reg_set
SKEY='HKLM\SOFTWARE\Microsoft\Microsoft Operations Manager\3.0\Machine Settings'
kdir="$WR/emu/hklm/software/microsoft/microsoft operations manager/3.0"
mkdir -p "$kdir"
printf '{"ChannelCertificateSerialNumber": {"kind": "Binary", "value": "0102"}, "Comment": {"kind": "String", "value": "x"}}' >"$kdir/machine settings.json"
chown -R "$LAB_USER" "$WR/emu/hklm"
serial=$(openssl x509 -in "$CA/scomgw01.pem" -noout -serial | sed 's/.*=//')
rev=$(printf '%s' "$serial" | fold -w2 | tac | tr -d '\n')
sp() { jq -nc --arg k "$SKEY" --arg v "$1" --arg t "$2" --arg e "$3" --arg n "$4" '{key: $k, value: $v, kind: $t, expect: $e, new: $n}'; }
wrun reg_read "$(jq -nc --arg k "$SKEY" '{key: $k, value: "channelcertificateserialnumber"}')"
if [[ $rc == 0 && $out == '{"key_exists":true,"exists":true,"kind":"Binary","text":null,"hex":"0102"}' ]]; then ok "reg_read: a REG_BINARY value, its name case-insensitive"; else bad "reg_read: rc $rc [$out] $(cat "$WORK/run.err")"; fi
wrun reg_set "$(sp ChannelCertificateSerialNumber REG_BINARY 0102 "$rev")"
if [[ $rc == 0 && $out == '{"state":"set","found":"0102"}' ]] && jq -e --arg r "$rev" '.ChannelCertificateSerialNumber == {kind: "Binary", value: $r}' "$kdir/machine settings.json" >/dev/null; then
	ok "reg_set: the reversed serial $rev written as REG_BINARY"
else
	bad "reg_set: rc $rc [$out] $(cat "$WORK/run.err" "$kdir/machine settings.json")"
fi
wrun reg_set "$(sp ChannelCertificateSerialNumber REG_BINARY 0102 "$rev")"
if [[ $out == "{\"state\":\"already\",\"found\":\"$rev\"}" ]]; then ok "reg_set: already set"; else bad "reg_set already: [$out]"; fi
wrun reg_set "$(sp ChannelCertificateSerialNumber REG_BINARY 0102 AA)"
if [[ $out == "{\"state\":\"mismatch\",\"found\":\"$rev\"}" ]]; then ok "reg_set: a stale expectation is a mismatch, nothing written"; else bad "reg_set mismatch: [$out]"; fi
wrun reg_set "$(sp Comment REG_BINARY x AA)"
if [[ $rc == 3 && $(cat "$WORK/run.err") == *"Comment is String, not REG_BINARY"* ]]; then ok "reg_set: the wrong type is refused (exit 3)"; else bad "reg_set type: rc $rc $(cat "$WORK/run.err")"; fi
wrun reg_set "$(sp Comment REG_SZ x "$HOSTILE")"
if [[ $rc == 0 ]] && jq -e --arg h "$HOSTILE" '.Comment.value == $h' "$kdir/machine settings.json" >/dev/null && ! [ -e "$MARK" ]; then
	ok "reg_set: a hostile REG_SZ value is stored unchanged and runs nothing"
else
	bad "reg_set hostile: rc $rc [$out] $(cat "$WORK/run.err")"
fi
rm -rf "$WR/emu/hklm"

# ---------------------------------------------------------------- services
# service_probe / service_run as renewd builds them: iisreset restarts
# W3SVC, a named service (SCOM's HealthService) restarts, a disabled one
# fails with the service manager's message, a missing one stops the script
mkdir -p "$WR/emu/services"
printf 'Running Automatic\n' >"$WR/emu/services/W3SVC"
printf 'Running Automatic\n' >"$WR/emu/services/WAS"
printf 'Stopped Automatic\n' >"$WR/emu/services/HealthService"
printf 'Stopped Disabled\n' >"$WR/emu/services/Off"
chown -R "$LAB_USER" "$WR/emu/services"
psbuild service_probe service_lib service_probe
psbuild service_run service_lib service_run
wrun service_probe '{"action": "iisreset"}'
if [[ $rc == 0 ]] && jq -e '.name == "W3SVC" and .exists and .status == "Running" and .iisreset' <<<"$out" >/dev/null; then
	ok "service_probe: W3SVC running, iisreset.exe there"
else
	bad "service_probe: rc $rc [$out] $(cat "$WORK/run.err")"
fi
wrun service_run '{"action": "iisreset", "timeout": 30}'
if [[ $rc == 0 ]] && jq -e '.exit == 0 and .status == "Running" and (.text | test("successfully restarted"))' <<<"$out" >/dev/null &&
	grep -q ' restart W3SVC$' "$WR/emu/services.log"; then
	ok "service_run: iisreset /restart restarted W3SVC"
else
	bad "service_run iisreset: rc $rc [$out] $(cat "$WORK/run.err")"
fi
wrun service_run '{"action": "restart", "service": "healthservice", "timeout": 30}'
if [[ $rc == 0 ]] && jq -e '.exit == 0 and .status == "Running"' <<<"$out" >/dev/null && grep -q ' restart HealthService$' "$WR/emu/services.log"; then
	ok "service_run: HealthService restarted (names case-insensitive)"
else
	bad "service_run HealthService: rc $rc [$out] $(cat "$WORK/run.err")"
fi
wrun service_run '{"action": "restart", "service": "Off", "timeout": 30}'
if [[ $rc == 0 ]] && jq -e '.exit == 1 and .status == "Stopped" and (.text | test("cannot be started"))' <<<"$out" >/dev/null; then
	ok "service_run: a disabled service fails, reported"
else
	bad "service_run disabled: rc $rc [$out] $(cat "$WORK/run.err")"
fi
wrun service_run '{"action": "restart", "service": "Nope", "timeout": 30}'
if [[ $rc == 3 && $(cat "$WORK/run.err") == *"Cannot find any service with service name 'Nope'"* ]]; then
	ok "service_run: a missing service stops the script (exit 3)"
else
	bad "service_run missing: rc $rc [$out] $(cat "$WORK/run.err")"
fi
rm -rf "$WR/emu/services" "$WR/emu/services.log"

# ---------------------------------------------------------------- the event log
# event_query as renewd builds it (windows.event_verify): NDES's Event 1
# after the restart; the same id from another provider and an event
# before "since" do not count; Event 2 (0x80070057) reported as the failure
mkdir -p "$WR/emu/events"
now=$(date +%s)
NDESP=Microsoft-Windows-NetworkDeviceEnrollmentService
{
	jq -nc --arg p "$NDESP" --argjson t $((now - 600)) '{id: 1, provider: $p, time: $t, record: 10, message: "old start"}'
	jq -nc --arg p "$NDESP" --argjson t $((now - 3)) '{id: 1, provider: $p, time: $t, record: 11, message: "The Network Device Enrollment Service started"}'
	jq -nc --argjson t $((now - 2)) '{id: 1, provider: "Other", time: $t, record: 12, message: "not NDES"}'
} >"$WR/emu/events/Application.jsonl"
chown -R "$LAB_USER" "$WR/emu/events"
psbuild event_query event_query
ep() { jq -nc --arg p "$NDESP" --argjson s "$1" --argjson f "$2" '{log: "Application", id: 1, provider: $p, since: $s, wait: 0, failure_ids: $f}'; }
wrun event_query "$(ep $((now - 60)) '[2]')"
if [[ $rc == 0 ]] && jq -e '.log_exists and .found and .record_id == 11 and .provider == "Microsoft-Windows-NetworkDeviceEnrollmentService" and .failure == null' <<<"$out" >/dev/null; then
	ok "event_query: NDES Event 1 since the restart (another provider's Event 1 ignored)"
else
	bad "event_query: rc $rc [$out] $(cat "$WORK/run.err")"
fi
wrun event_query "$(ep $((now - 1)) '[2]')"
if [[ $rc == 0 ]] && jq -e '.log_exists and (.found | not)' <<<"$out" >/dev/null; then ok "event_query: nothing since later"; else bad "event_query since: rc $rc [$out]"; fi
jq -nc --arg p "$NDESP" --argjson t "$now" '{id: 2, provider: $p, time: $t, record: 13, message: "The Network Device Enrollment Service cannot be started (0x80070057). The parameter is incorrect."}' \
	>>"$WR/emu/events/Application.jsonl"
wrun event_query "$(ep $((now - 1)) '[2]')"
if [[ $rc == 0 ]] && jq -e '(.found | not) and .failure.id == 2 and (.failure.message | test("0x80070057"))' <<<"$out" >/dev/null; then
	ok "event_query: Event 2 (0x80070057) reported as the failure"
else
	bad "event_query failure: rc $rc [$out] $(cat "$WORK/run.err")"
fi
wrun event_query '{"log": "Nope", "id": 1, "provider": "x", "since": 0, "wait": 0, "failure_ids": []}'
if [[ $rc == 0 ]] && jq -e '(.log_exists | not) and (.found | not)' <<<"$out" >/dev/null; then ok "event_query: a missing log"; else bad "event_query missing log: rc $rc [$out]"; fi
rm -rf "$WR/emu/events"

# ---------------------------------------------------------------- renewd inventory, shipped runbooks
runbook() { # SHIPPED OUT: the shipped runbook aimed at the emulated host
	jq --arg a "$ADDR" --arg u "$LAB_USER" --arg i "$LAB_KEY" --arg k "$KH" \
		'.targets.hosts |= [.[0] | .address = $a] | .ssh.user = $u | .ssh.identity = $i | .ssh.known_hosts = $k | del(.notify)' \
		"$ROOT/runbooks/$1" >"$2"
}
inventory() { # SHIPPED THUMBPRINT PROVIDER [alone: RENEWD_WINDOWS_BATCH=0, each script its own powershell.exe]
	local rb=$WORK/${1%.json}.json before after
	runbook "$1" "$rb"
	: >"$W/sessions.log"
	before=$(win_state "$WR")
	if ! inns env RENEWD_WINDOWS_BATCH="${4:+0}" "$RENEWD" inventory "$rb" --json >"$WORK/inv.json" 2>"$WORK/inv.err"; then
		bad "$1: renewd inventory failed: $(cat "$WORK/inv.err")"
		return
	fi
	after=$(win_state "$WR")
	if jq -e --arg t "$2" --arg p "$3" '[.jobs[0].steps[0].phases.probe.result.detail | select(.thumbprint == $t and .key_provider == $p and .key_match == true and .duplicates == 0)] | length == 1' \
		"$WORK/inv.json" >/dev/null; then
		ok "$1: inventory finds $2 ($3 key, matching)"
	else
		bad "$1: inventory: $(jq -c '.jobs[0].steps[0].phases' "$WORK/inv.json" 2>/dev/null || cat "$WORK/inv.json")"
	fi
	if [ -z "${4-}" ]; then # the Windows session: the script's text on stdin, no upload
		if [ "$(wc -l <"$W/sessions.log")" = 1 ] &&
			grep -Eq '^powershell\.exe -NoProfile -NonInteractive -EncodedCommand [A-Za-z0-9+/=]+$' "$W/sessions.log"; then
			ok "$1: the store script went on stdin to the job's one powershell.exe (no upload)"
		else
			bad "$1: sessions: $(cut -c1-160 "$W/sessions.log")"
		fi
	elif grep -Eq '^powershell\.exe .*-File C:\\Windows\\Temp\\renewd-windows\.store\.list-[0-9a-f]{16}\.ps1$' "$W/sessions.log" &&
		grep -qx 'renewd-winhost-sftp' "$W/sessions.log"; then
		ok "$1: alone, the store script was uploaded over SFTP and run with -File"
	else
		bad "$1: sessions: $(cut -c1-160 "$W/sessions.log")"
	fi
	if [[ $before == "$after" ]]; then ok "$1: the emulated machine is unchanged (the upload removed itself)"; else bad "$1: the machine changed: $(diff <(echo "$before") <(echo "$after"))"; fi
}
inventory windows-ndes-ra.json "$T_CEP" CAPI
inventory windows-ndes-ra.json "$T_CEP" CAPI alone
inventory windows-ndes-ra-eea.json "$T_EEA" CNG
inventory windows-scom-channel.json "$T_SCOM" CAPI
inventory windows-iis-site.json "$T_WEB" CNG
inventory windows-sql-server.json "$T_SQL" CAPI
# (renewd writes a DN as RFC 4514 does: the " escaped as \")
HDN="CN=${HOSTILE//\"/\\\"}"
if jq -e --arg s "$HDN" '.jobs[0].steps[0].phases.probe.result.detail.subject == $s' "$WORK/inv.json" >/dev/null &&
	! [ -e "$MARK" ] && ! find "$WR" -name "${MARK##*/}" | grep -q .; then
	ok "a hostile subject comes back unchanged and runs nothing"
else
	bad "hostile subject: $(jq -c '.jobs[0].steps[0].phases.probe.result.detail.subject' "$WORK/inv.json"), want $(jq -nc --arg s "$HDN" '$s')"
fi
# (the certificate of a ConfigMgrClientCertificate the machine does not
# know, unknown-template, would be a duplicate if Format() named it)
inventory windows-configmgr-policy-module.json "$T_CM" CAPI

# ---------------------------------------------------------------- renewd doctor
# the NDES RA runbook (adcs issuer, key ACL with the SCEP pool, iisreset,
# Event 1) on a machine with what the emulation has (.NET's Release, W3SVC,
# an empty Application log): exactly the checks it cannot pass fail, each
# with its fix (docs/LAB.md: no admin token, no Schedule service, no
# `certutil -ping`, no W3SVC site binding), certreq/certutil found on
# PATH (the emulated programs), and nothing is changed
mkdir -p "$WR/emu/events" "$WR/emu/services" "$WR/emu/hklm/software/microsoft/net framework setup/ndp/v4"
: >"$WR/emu/events/Application.jsonl"
printf 'Running Automatic\n' >"$WR/emu/services/W3SVC"
printf '{"Release": {"kind": "String", "value": "528449"}}' >"$WR/emu/hklm/software/microsoft/net framework setup/ndp/v4/full.json"
chown -R "$LAB_USER" "$WR/emu"
runbook windows-ndes-ra.json "$WORK/doctor-ndes.json"
before=$(win_state "$WR")
inns "$RENEWD" doctor "$WORK/doctor-ndes.json" --json >"$WORK/doctor.json" 2>"$WORK/doctor.err"; rc=$?
after=$(win_state "$WR")
DFAIL='elevation,task-scheduler,ca,iis,CA,step NDES service account reads the key'
DOK='ssh,powershell,dotnet,tools,tools,event-log,service,certificate,install,step remove superseded RA certificates,step iisreset,step load NDES (GetCACaps),step NDES started (Event 1)'
if [[ $rc == 1 ]] && jq -e --arg f "$DFAIL" --arg o "$DOK" '.jobs[0].state == "NOT_READY" and ([.jobs[0].checks[] | select(.ok | not) | .check] | join(",")) == $f and
	([.jobs[0].checks[] | select(.ok) | .check] | join(",")) == $o and all(.jobs[0].checks[] | select(.ok | not); (.fix // "") != "")' "$WORK/doctor.json" >/dev/null; then
	ok "renewd doctor windows-ndes-ra.json: NOT_READY, the checks the emulation cannot pass named with their fix"
else
	bad "renewd doctor: rc $rc $(jq -c '[.jobs[0].checks[] | [.check, .ok]]' "$WORK/doctor.json" 2>/dev/null) $(cat "$WORK/doctor.err")"
fi
if [[ $before == "$after" ]]; then ok "renewd doctor: the emulated machine is unchanged"; else bad "doctor changed the machine: $(diff <(echo "$before") <(echo "$after"))"; fi
rm -rf "$WR/emu/events" "$WR/emu/services" "$WR/emu/hklm"

echo "windows_lab: $(($(date +%s) - t0)) s"
finish

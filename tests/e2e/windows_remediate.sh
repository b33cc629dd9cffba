#!/usr/bin/env bash
# windows_remediate.sh — `renewd remediate` by the real renewd over real SSH
# against the lab's emulated Windows host (contrib/lab/winhost,
# tests/windows/emu): an NDES server whose certificates are not due, broken
# the three ways that stop NDES or its policy module without any certificate
# expiring.
#
# The machine: the NDES RA pair of runbooks/windows-ndes-ra-pair.json
# (tests/e2e/lib/winhost.sh win_ndes_pair, valid for 200 days) and the
# ConfigMgr policy module's certificate, whose thumbprint the module reads
# from NDESCertThumbprint; the runbook is the lab copy of the pair with a
# third certificate, the policy module's, and its registry step taken from
# runbooks/windows-configmgr-policy-module.json. Healthy, remediate finds
# nothing (exit 0) and its GetCACaps loads NDES (Event 1). Then it is
# broken: a superseded duplicate CEP Encryption certificate in
# LocalMachine\My (NDES then cannot start: Event 2, 0x80070057), the SCEP
# pool's account no longer reading the EEA key, NDESCertThumbprint naming
# a superseded certificate. `remediate --whatif` names each (exit 10) and
# leaves the machine byte-for-byte unchanged; `remediate` repairs all three
# without a renewal (exit 10, REPAIRED, nothing submitted to the CA), IIS
# and the connector restart and NDES starts with Event 1; a second
# `remediate` finds nothing (exit 0). Last, the policy module's own
# runbook (runbooks/windows-configmgr-policy-module.json) renews its
# certificate: NDESCertThumbprint moved, NDESPlugin.log names the new
# thumbprint; a run where NDES cannot start (so the module never logs)
# rolls back.
# Needs root. Prints "windows_remediate: N passed, M failed".
set -uo pipefail
TEST=windows_remediate
LAB_DIR_NAME=${WINREM_DIR:-/var/lib/renewd-lab-winrem}
LAB_NETNS=${WINREM_NETNS:-renewd-lab-winrem}
# shellcheck source=lib/labtest.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib/labtest.sh"
# shellcheck source=lib/winhost.sh
. "$HERE/lib/winhost.sh"
t0=$(date +%s)
win_lab_begin
# shellcheck source=lib/journalq.sh
. "$HERE/lib/journalq.sh"
journal_setup # RENEWD_TEST_JOURNAL=pg: on PostgreSQL
ok "lab up, lab win up ($(($(date +%s) - t0)) s)"

# ---------------------------------------------------------------- the NDES server
# the duplicate is issued first: superseded, it is no newer than the live
# CEP Encryption certificate (windows.prune_duplicates removes only those)
win_issue "$CA" "$WORK/dup" NDES01-MSCEP-RA CEPEncryption 100
win_issue "$CA" "$WORK/pmold" NDES01.corp.example ConfigMgrClientCertificate 100
win_ndes_pair 200 200
win_issue "$CA" "$WORK/pm" NDES01.corp.example ConfigMgrClientCertificate 200
T_PM=$(win_seed_cert "$WR" My "$WORK/pm.pem" "$WORK/pm.key" capi 'ConfigMgr-PM-container')
fp() { openssl x509 -in "$1" -noout -fingerprint -sha1 | sed 's/.*=//; s/://g'; }
T_DUP=$(fp "$WORK/dup.pem")
T_PMOLD=$(fp "$WORK/pmold.pem")
PMKEY='HKLM\SOFTWARE\Microsoft\Cryptography\MSCEP\Modules\NDESPolicy'
REGF=$WR/emu/hklm/software/microsoft/cryptography/mscep/modules/ndespolicy.json
reg_holds() { jq -r '.NDESCertThumbprint.value' "$REGF"; }
set_reg() { # THUMBPRINT: NDESCertThumbprint, REG_SZ
	mkdir -p "$(dirname "$REGF")"
	jq -n --arg t "$1" '{NDESCertThumbprint: {kind: "String", value: $t}}' >"$REGF"
	chown -R "$LAB_USER" "$WR/emu/hklm"
}
set_reg "$T_PM"
# the ConfigMgr policy module, loaded by NDES, logging to NDESPlugin.log
# (tests/windows/emu/Ndes.ps1) where its runbook's log_verify step reads
PMLOGW=$(jq -r '.steps[] | select(.type == "windows.log_verify") | .params.path' "$ROOT/runbooks/windows-configmgr-policy-module.json")
jq -n --arg l "$PMLOGW" '{log: $l}' >"$WR/emu/policymodule.json"
PMLOG=$WR/c/$(printf '%s' "${PMLOGW#C:\\}" | tr '\\' /)
RM=$WORK/ndes-remediate.json
jq --slurpfile pm "$ROOT/runbooks/windows-configmgr-policy-module.json" --arg k "$PMKEY" \
	'.certificates += [{name: "policy-module", certificate: $pm[0].certificate,
	   steps: [$pm[0].steps[] | select(.type == "windows.registry_thumbprint")]}]
	 | if [.certificates[2].steps[].params.key] == [$k] then . else error("the policy module runbook changed") end' \
	"$RB" >"$RM" || { not_ok "the runbook: $(cat "$RM")"; finish; exit 1; }
chown -R "$LAB_USER" "$WR"
EVENTS=$WR/emu/events/Application.jsonl
my_certs() { (cd "$MY" && ls -- *.cer | sed 's/\.cer$//' | sort | paste -sd,); }

# ---------------------------------------------------------------- healthy
rd healthy remediate --runbook "$RM" --host ndes01 --json
if [[ $rc == 0 ]] && jq -se --arg p "$NDESP" 'any(.[]; .id == 1 and .provider == $p) and all(.[]; .id != 2)' "$EVENTS" >/dev/null; then
	ok "healthy: remediate finds nothing (exit 0); its GetCACaps loaded NDES (Event 1)"
else
	not_ok "healthy: rc $rc $(tail -c 3000 "$WORK/healthy.out") $(tail -c 2000 "$WORK/healthy.err") events $(cat "$EVENTS")"
fi

# ---------------------------------------------------------------- broken three ways
win_seed_cert "$WR" My "$WORK/dup.pem" "$WORK/dup.key" capi 'CEP-RA-container-2025' >/dev/null
EEA_KEY=$(win_keyfile "$T_EEA")
jq --arg k "${EEA_KEY,,}" --arg s "$SVC_SID" 'del(.[$k][$s])' "$WR/emu/acl.json" >"$WORK/acl" && cat "$WORK/acl" >"$WR/emu/acl.json"
set_reg "$T_PMOLD"
chown -R "$LAB_USER" "$WR"
# what NDES would log at its next start: on a copy of the machine, IIS
# restarted (NDES unloaded), then a GetCACaps request loads it
cp -a "$WR" "$WORK/probe-root"
rm -f "$WORK/probe-root/emu/ndes.loaded"
RENEWD_WIN_ROOT=$WORK/probe-root "$ROOT/tests/windows/bin/host/renewd-pshost" -NoProfile -NonInteractive -Command \
	'Invoke-WebRequest -UseBasicParsing http://localhost/certsrv/mscep/mscep.dll/pkiclient.exe?operation=GetCACaps' >"$WORK/probe.out" 2>&1
if jq -se --arg p "$NDESP" '.[-1] | .id == 2 and .provider == $p and (.message | contains("0x80070057"))' \
	"$WORK/probe-root/emu/events/Application.jsonl" >/dev/null && grep -q '(500)' "$WORK/probe.out"; then
	ok "broken: NDES would not start (Event 2, 0x80070057; GetCACaps answers 500)"
else
	not_ok "broken: the emulated NDES: $(cat "$WORK/probe.out") $(tail -1 "$WORK/probe-root/emu/events/Application.jsonl")"
fi

# ---------------------------------------------------------------- remediate --whatif
before=$(win_state "$WR")
subs=$(grep -c ' submit ' "$CA/log" 2>/dev/null)
rd whatif remediate --runbook "$RM" --host ndes01 --whatif --json
after=$(win_state "$WR")
findings() { jq -r '.. | objects | select(has("findings")) | .findings[] | "\(.step): \(.finding)"' "$WORK/$1.out" 2>/dev/null; }
findings whatif >"$WORK/whatif.findings"
if [[ $rc == 10 ]] && jq -e '[.. | objects | select(has("remedy")) | .remedy] == ["repair"]' "$WORK/whatif.out" >/dev/null; then
	ok "remediate --whatif: something to repair, no renewal (exit 10, remedy repair)"
else
	not_ok "remediate --whatif: rc $rc $(tail -c 3000 "$WORK/whatif.out") $(tail -c 2000 "$WORK/whatif.err")"
fi
if grep -q "^cep-encryption: inventory: duplicates: .*$T_DUP" "$WORK/whatif.findings" &&
	grep -q "^cep-encryption: remove superseded certificates: " "$WORK/whatif.findings"; then
	ok "remediate --whatif: names the duplicate CEP Encryption certificate"
else
	not_ok "remediate --whatif: no duplicate finding in: $(cat "$WORK/whatif.findings")"
fi
if grep -q "^enrollment-agent: NDES service account reads the key: " "$WORK/whatif.findings" &&
	! grep -q "^cep-encryption: NDES service account reads the key" "$WORK/whatif.findings"; then
	ok "remediate --whatif: names the EEA key the SCEP pool cannot read (and only that key)"
else
	not_ok "remediate --whatif: key ACL findings: $(cat "$WORK/whatif.findings")"
fi
if grep -qi "^policy-module: NDESCertThumbprint: .*$T_PMOLD" "$WORK/whatif.findings"; then
	ok "remediate --whatif: names the stale NDESCertThumbprint"
else
	not_ok "remediate --whatif: registry findings: $(cat "$WORK/whatif.findings")"
fi
if [[ $before == "$after" && $(grep -c ' submit ' "$CA/log" 2>/dev/null) == "$subs" ]]; then
	ok "remediate --whatif: the emulated machine is byte-for-byte unchanged, nothing submitted"
else
	not_ok "remediate --whatif changed the machine: $(diff <(echo "$before") <(echo "$after"))"
fi

# ---------------------------------------------------------------- remediate
m_svc=$(win_mark "$WR/emu/services.log") m_ev=$(win_mark "$EVENTS")
rd fix remediate --runbook "$RM" --host ndes01 --json
if [[ $rc == 10 ]] && jq -e '[.jobs[] | .state] == ["REPAIRED"]' "$WORK/fix.out" >/dev/null; then
	ok "remediate: REPAIRED (exit 10)"
else
	not_ok "remediate: rc $rc $(tail -c 3000 "$WORK/fix.out") $(tail -c 3000 "$WORK/fix.err")"
fi
if [[ $(my_certs) == "$(printf '%s\n' "$T_CEP" "$T_EEA" "$T_PM" | sort | paste -sd,)" &&
	-f $WR/c/ProgramData/renewd/backup/$T_DUP.cer && $(grep -c ' submit ' "$CA/log" 2>/dev/null) == "$subs" ]]; then
	ok "remediate: the duplicate pruned (its certificate backed up), no renewal, nothing submitted"
else
	not_ok "remediate: My holds $(my_certs), backup $(ls "$WR/c/ProgramData/renewd/backup" 2>&1)"
fi
if jq -e --arg k "${EEA_KEY,,}" --arg s "$SVC_SID" '.[$k][$s] == 1179785' "$WR/emu/acl.json" >/dev/null; then
	ok "remediate: CORP\\svc_ndes reads the EEA key again"
else
	not_ok "remediate: acl $(cat "$WR/emu/acl.json")"
fi
if [[ $(reg_holds) == "$T_PM" ]]; then
	ok "remediate: NDESCertThumbprint names the live certificate again"
else
	not_ok "remediate: NDESCertThumbprint holds $(reg_holds), the live one is $T_PM"
fi
if win_since "$WR/emu/services.log" "$m_svc" | awk '{print $3}' | sort | paste -sd, | grep -qx 'NDESConnectorSvc,W3SVC,WAS'; then
	ok "remediate: iisreset and the connector restarted"
else
	not_ok "remediate: services.log: $(cat "$WR/emu/services.log")"
fi
if win_since "$EVENTS" "$m_ev" | jq -se --arg p "$NDESP" 'any(.[]; .id == 1 and .provider == $p)' >/dev/null &&
	jq -se 'all(.[]; .id != 2)' "$EVENTS" >/dev/null; then
	ok "remediate: NDES started with Event 1 (no Event 2)"
else
	not_ok "remediate: events: $(cat "$EVENTS")"
fi

# ---------------------------------------------------------------- again
rd again remediate --runbook "$RM" --host ndes01 --json
if [[ $rc == 0 ]] && [[ -z $(findings again) ]]; then
	ok "a second remediate finds nothing (exit 0)"
else
	not_ok "second remediate: rc $rc findings $(findings again) $(tail -c 2000 "$WORK/again.err")"
fi

# ---------------------------------------------------------------- the policy module's runbook
# runbooks/windows-configmgr-policy-module.json itself: the client
# certificate renewed, NDESCertThumbprint moved to it, iisreset, GetCACaps
# loads NDES and the policy module, whose NDESPlugin.log names the new
# thumbprint; then a run where NDES cannot start (the SCEP pool loses its
# read right on the EEA key: Event 2, the module never loads) rolls back
RP=$WORK/policy-module.json
win_lab_runbook windows-configmgr-policy-module.json "$RP" '(.steps[] | select(.type == "windows.log_verify")) |= (.params.within = "10s" | .timeout = "1m")'
rd pm run "$RP" --force --json
T_PMNEW=$(reg_holds)
if [[ $rc == 10 && ${T_PMNEW^^} != "${T_PM^^}" && -f $MY/${T_PMNEW^^}.cer ]] && grep -qF "INFO(\"NDES thumbprint is $T_PMNEW.\")" "$PMLOG"; then
	ok "policy module runbook: renewed, NDESCertThumbprint moved, NDESPlugin.log names the new thumbprint (exit 10)"
else
	not_ok "policy module runbook: rc $rc, registry $T_PMNEW (was $T_PM), log $(tail -3 "$PMLOG" 2>&1) $(tail -c 2000 "$WORK/pm.err")"
fi
jq --arg k "${EEA_KEY,,}" --arg s "$SVC_SID" 'del(.[$k][$s])' "$WR/emu/acl.json" >"$WORK/acl" && cat "$WORK/acl" >"$WR/emu/acl.json"
lines0=$(wc -l <"$PMLOG")
rd pmrb run "$RP" --force --json
if [[ $rc == 1 && $(reg_holds) == "$T_PMNEW" && -f $MY/${T_PMNEW^^}.cer && $(wc -l <"$PMLOG") == "$lines0" ]]; then
	ok "policy module runbook, NDES cannot start: no NDESPlugin.log line, rolled back (NDESCertThumbprint and the certificate as before, exit 1)"
else
	not_ok "policy module rollback: rc $rc, registry $(reg_holds) (was $T_PMNEW), log $(tail -2 "$PMLOG") $(tail -c 2000 "$WORK/pmrb.err")"
fi

echo "windows_remediate: $(($(date +%s) - t0)) s"
finish

#!/usr/bin/env bash
# windows_scom.sh — runbooks/windows-scom-channel.json run by the real
# renewd over real SSH against the lab's emulated Windows host
# (tests/windows/emu: SCOM's HealthService in Scom.ps1).
#
# A lab copy of the runbook (address, SSH, the event wait shortened to 5 s,
# renew_before 60d): `plan` and `run --whatif` leave the machine
# byte-for-byte unchanged; `run` renews the channel certificate from the
# lab CA (RenewalCert as SYSTEM), grants SYSTEM read on the new key, writes
# ChannelCertificateSerialNumber (the new serial's bytes reversed,
# REG_BINARY) and ChannelCertificateHash, restarts HealthService, which
# loads the new certificate and logs Event 20053, and prunes the
# superseded certificate; a run whose 20053 never comes (HealthService
# logs 20050) rolls back: the old certificate and both registry values
# back. An expired basis stops in NEEDS_OPERATOR before any CA contact and
# leaves the machine unchanged. Hostile values (quotes of every kind,
# $(), backticks, here-string markers, CR/LF, 70 KB) in the key ACL
# account, the registry key and value name and the subject selector.
# Needs root. Prints "windows_scom: N passed, M failed".
set -uo pipefail
TEST=windows_scom
LAB_DIR_NAME=${WINSCOM_DIR:-/var/lib/renewd-lab-winscom}
LAB_NETNS=${WINSCOM_NETNS:-renewd-lab-winscom}
# shellcheck source=lib/labtest.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib/labtest.sh"
# shellcheck source=lib/winhost.sh
. "$HERE/lib/winhost.sh"
win_lab_up
# shellcheck source=lib/journalq.sh
. "$HERE/lib/journalq.sh"
journal_setup # RENEWD_TEST_JOURNAL=pg: on PostgreSQL
OPSMGR='OpsMgr Connector'
V2=1.3.6.1.4.1.311.21.8.4242.7.1
SETTINGS="$WR/emu/hklm/software/microsoft/microsoft operations manager/3.0/machine settings.json"
OML="$WR/emu/events/Operations Manager.jsonl"
my() { (cd "$MY" && ls | sort | paste -sd,); }
# the ids of the events logged since win_mark gave N (a count of lines, not
# a time: a run's last event can share the second the next run starts in)
events_after() { win_since "$OML" "$1" | jq -sc '[.[].id]'; }
event_count() { win_mark "$OML"; }

# ---------------------------------------------------------------- the SCOM gateway
# its channel certificate (a v2 template) from the lab CA, imported with
# MOMCertImport (the reversed serial and the hash in Machine Settings),
# SYSTEM reading its key; HealthService running
# seed_channel PEM KEY: the certificate in My, Machine Settings naming it,
# SYSTEM reading its key; prints the thumbprint
seed_channel() {
	local t
	t=$(win_seed_cert "$WR" My "$1" "$2" capi "scom-channel-$RANDOM")
	mkdir -p "${SETTINGS%/*}"
	jq -n --arg s "$(win_serial_reversed "$1")" --arg h "$t" \
		'{ChannelCertificateSerialNumber: {kind: "Binary", value: $s}, ChannelCertificateHash: {kind: "String", value: $h}}' >"$SETTINGS"
	jq -n --arg a "$(win_keyfile "$t")" '{($a | ascii_downcase): {"S-1-5-18": 1179785}}' >"$WR/emu/acl.json"
	jq -n --arg v "$HVAL" --arg h "$t" '{($v): {kind: "String", value: $h}}' >"$HFILE"
	printf '%s\n' "$t"
}
# hostile values that reach the machine (the Pester suite covers the
# scripts alone): every quote, $() and backticks that would create a
# rdcanary* file if run, here-string markers. The subject selector (a CN:
# 64 characters at most) is matched by renewd itself; the key ACL account
# (no '"': Windows account names cannot hold one), a registry key and value
# name travel as data to the scripts
HQ="'\"‘’“”"
HSUBJ="gw$HQ\$(ni rdcanary-s)\`\$(ni rdcanary-t)@'\"@"
HACC="CORP\\svc ‘’“”'\$(ni rdcanary-a)\`\$(ni rdcanary-b)@' '@"
HKEY="HKLM\\SOFTWARE\\renewd $HQ\$(ni rdcanary-k)\`\$(ni rdcanary-l)@' '@ @\" \"@"
HVAL="thumb $HQ\$(ni rdcanary-v)\`\$(ni rdcanary-w)@' '@ @\" \"@"
HFILE="$WR/emu/hklm/software/${HKEY#*\\*\\}.json"
HSID=S-1-5-21-1004336348-1177238915-682003330-2107
canaries() { find "$W" /tmp / -maxdepth 1 -name 'rdcanary*' 2>/dev/null; find "$W" -name 'rdcanary*' 2>/dev/null; }
win_issue "$CA" "$WORK/gw" "$HSUBJ" OperationsManagerCertificate 30 $V2
T_OLD=$(seed_channel "$WORK/gw.pem" "$WORK/gw.key")
win_seed_cert "$WR" Root "$CA/ca.pem" >/dev/null
printf '%s OperationsManagerCertificate\n' "$V2" >"$WR/emu/templates"
mkdir -p "$WR/emu/services" "$WR/emu/events"
for s in HealthService Schedule; do printf 'Running Automatic\n' >"$WR/emu/services/$s"; done
: >"$OML"
echo '{}' >"$WR/emu/scom.json"
printf '%s %s\n' "$HSID" "$HACC" >"$WR/emu/accounts"
chown -R "$LAB_USER" "$WR" "$CA"
if [[ -n $T_OLD && -s $SETTINGS ]]; then ok "seeded: the SCOM channel certificate from the lab CA, Machine Settings naming it"; else not_ok "seeding failed"; finish; exit 1; fi

RB=$WORK/scom.json
# (with the hostile values: the subject selector, a second key ACL grant,
# a third registry value)
win_lab_runbook windows-scom-channel.json "$RB" '.policy = {renew_before: "60d"} | .certificate.subject = $subj
	| .steps |= (.[0:1] + [{type: "windows.key_acl", name: "hostile account", params: {account: $acc, rights: "read"}}] + .[1:3]
		+ [{type: "windows.registry_thumbprint", name: "hostile registry value", params: {key: $key, value: $val, format: "sha1", kind: "REG_SZ"}}]
		+ .[3:])' --arg subj "$HSUBJ" --arg acc "$HACC" --arg key "$HKEY" --arg val "$HVAL"

# ---------------------------------------------------------------- plan, run --whatif
before=$(win_state "$WR")
"$LAB" exec -- "$RENEWD" plan "$RB" --json >"$WORK/plan.out" 2>"$WORK/plan.err"; rc=$?
if [[ $rc == 10 ]] && jq -e --arg a "$T_OLD" '[.. | strings | select(. == $a)] | length > 0' "$WORK/plan.out" >/dev/null; then
	ok "plan: the channel certificate found and due (exit 10)"
else not_ok "plan: rc $rc $(head -c 2000 "$WORK/plan.err") $(head -c 2000 "$WORK/plan.out")"; fi
# the probes read the hostile registry value (it holds the old thumbprint)
# and name the hostile account, both unchanged
if jq -e --arg m "scomgw01: $HKEY\\$HVAL: would change $T_OLD -> (new certificate)" \
	--arg a "scomgw01: would grant $HACC Read, Synchronize on the new certificate's private key" \
	'[.. | strings] | index($m) != null and index($a) != null' "$WORK/plan.out" >/dev/null; then
	ok "hostile: plan read the hostile registry value and names the hostile account, both unchanged"
else not_ok "hostile: plan: $(jq -c '[.. | objects | .message? | strings]' "$WORK/plan.out" | head -c 3000)"; fi
win_whatif "$RB" "$before"

# ---------------------------------------------------------------- run
win_run "$RB"
mapfile -t NEW < <(cd "$MY" && ls -- *.cer | sed 's/\.cer$//' | grep -vx "$T_OLD")
T_NEW=${NEW[0]:-none}
if [[ ${#NEW[@]} == 1 && ! -e $MY/$T_OLD.cer && -e $MY/$T_NEW.keyprov ]] &&
	openssl x509 -inform DER -in "$MY/$T_NEW.cer" -out "$WORK/new.pem" 2>/dev/null &&
	openssl verify -CAfile "$CA/ca.pem" "$WORK/new.pem" >/dev/null 2>&1; then
	ok "run: a new certificate from the lab CA in LocalMachine\\My with its key, the superseded one pruned"
else
	not_ok "run: My holds $(my)"
fi
if jq -e --arg k "$(win_keyfile "$T_NEW" | tr 'A-Z' 'a-z')" '.[$k]["S-1-5-18"] == 1179785' "$WR/emu/acl.json" >/dev/null; then
	ok "run: SYSTEM (the Health Service) reads the new key (key ACL)"
else not_ok "run: key ACL: $(cat "$WR/emu/acl.json")"; fi
rev=$(win_serial_reversed "$WORK/new.pem")
oserial=$(openssl x509 -in "$WORK/new.pem" -noout -serial | sed 's/.*=//')
# both without leading zeros: openssl prints 0D88... as it is, and the DER's
# sign byte 00 (kept by Windows, so at the end of the reversed bytes) comes
# back first
if [[ -n $rev && $(printf '%s' "$rev" | fold -w2 | tac | tr -d '\n' | sed 's/^0*//') == "$(printf '%s' "$oserial" | sed 's/^0*//')" ]] &&
	jq -e --arg r "$rev" --arg h "$T_NEW" '.ChannelCertificateSerialNumber == {kind: "Binary", value: $r} and .ChannelCertificateHash == {kind: "String", value: $h}' \
		"$SETTINGS" >/dev/null; then
	ok "run: ChannelCertificateSerialNumber holds serial $oserial reversed ($rev, REG_BINARY), ChannelCertificateHash the new SHA-1"
else
	not_ok "run: serial $oserial, Machine Settings: $(cat "$SETTINGS")"
fi
if win_since "$WR/emu/services.log" "$m_svc" | awk '$3 == "HealthService"' | grep -q . &&
	win_since "$OML" "$m_oml" | jq -se --arg p "$OPSMGR" --arg n "$T_NEW" \
		'any(.[]; .id == 20053 and .provider == $p and (.message | contains($n))) and all(.[]; .id == 20053)' >/dev/null; then
	ok "run: HealthService restarted, loaded the new certificate and logged Event 20053 (no failure event)"
else
	not_ok "run: services.log: $(cat "$WR/emu/services.log" 2>/dev/null), Operations Manager: $(cat "$OML")"
fi
if [[ $(grep -c ' submit Certificate retrieved' "$CA/log") == 1 ]]; then ok "run: one RenewalCert request issued by the lab CA"; else not_ok "run: CA log: $(cat "$CA/log" 2>/dev/null)"; fi
# the hostile values reached the machine unchanged and ran nothing
if [[ $(openssl x509 -in "$WORK/new.pem" -noout -subject -nameopt utf8,sep_comma_plus,-esc_2253,-esc_msb) == "subject=CN=$HSUBJ" ]]; then
	ok "hostile: the subject selector chose the certificate; the new one keeps its subject unchanged"
else not_ok "hostile: new subject $(openssl x509 -in "$WORK/new.pem" -noout -subject -nameopt utf8)"; fi
if jq -e --arg k "$(win_keyfile "$T_NEW" | tr 'A-Z' 'a-z')" --arg s "$HSID" '.[$k][$s] == 1179785' "$WR/emu/acl.json" >/dev/null; then
	ok "hostile: the key ACL account reached the machine unchanged (translated to its SID, granted read)"
else not_ok "hostile: key ACL: $(cat "$WR/emu/acl.json")"; fi
if jq -e --arg v "$HVAL" --arg h "$T_NEW" '. == {($v): {kind: "String", value: $h}}' "$HFILE" >/dev/null; then
	ok "hostile: the registry key and value name reached the machine unchanged (the new thumbprint written there)"
else not_ok "hostile: registry: $(ls "$WR/emu/hklm/software"; cat "$HFILE")"; fi
if [[ -z $(canaries) ]]; then ok "hostile: nothing ran (no rdcanary file)"; else not_ok "hostile: payload ran: $(canaries)"; fi

# ---------------------------------------------------------------- rollback
# the next start of HealthService logs 20050: the check fails at once, the
# job rolls back to the first run's certificate, restarts the service
# (which loads it again: 20053) and checks again
printf '{"fail": 20050, "fail_starts": 1}\n' >"$WR/emu/scom.json"
chown "$LAB_USER" "$WR/emu/scom.json"
mine=$(my)
regs=$(jq -cS . "$SETTINGS" "$HFILE")
subs=$(grep -c ' submit ' "$CA/log")
n_rb=$(event_count)
rd rb run "$RB" --force --json
if [[ $rc == 1 ]] && grep -q 'ROLLED_BACK' "$WORK/rb.out" && grep -q '20050' "$WORK/rb.out" "$WORK/rb.err"; then
	ok "run whose 20053 never comes (HealthService logs 20050): the job fails, ROLLED_BACK (exit 1)"
else
	not_ok "rollback run: rc $rc $(tail -c 3000 "$WORK/rb.err") $(tail -c 2000 "$WORK/rb.out")"
fi
if [[ $(my) == "$mine" && $(jq -cS . "$SETTINGS" "$HFILE") == "$regs" && $(grep -c ' submit ' "$CA/log") == $((subs + 1)) ]]; then
	ok "rollback: My holds the first run's certificate again with its key; the registry values (SCOM's two, the hostile one) restored exactly"
else
	not_ok "rollback: My was [$mine], now [$(my)]; registry was $regs, now $(jq -cS . "$SETTINGS" "$HFILE")"
fi
if [[ $(events_after "$n_rb") == '[20050,20053]' ]]; then
	ok "rollback: HealthService logged 20050 with the new certificate, then 20053 with the restored one"
else not_ok "rollback: events since: $(events_after "$n_rb")"; fi

# ---------------------------------------------------------------- an expired basis
# the certificate renewd would renew (RenewalCert) expired yesterday: the
# CA would deny a request it signs, so the job stops for an operator before
# certreq runs, and nothing on the machine changes
echo '{}' >"$WR/emu/scom.json"
rm -f "$MY"/*
win_issue "$CA" "$WORK/exp" "$HSUBJ" OperationsManagerCertificate 30 $V2 && win_reissue_expired "$CA" "$WORK/exp" ||
	not_ok "cannot issue the expired certificate"
T_EXP=$(seed_channel "$WORK/exp.pem" "$WORK/exp.key")
chown -R "$LAB_USER" "$WR"
cabefore=$(cat "$CA/log" 2>/dev/null)
before=$(win_state "$WR")
rd exp run "$RB" --force --json
if [[ $rc == 1 ]] && grep -q 'NEEDS_OPERATOR' "$WORK/exp.out" && grep -q "current certificate $T_EXP expired on" "$WORK/exp.out" "$WORK/exp.err"; then
	ok "expired basis: the job stops in NEEDS_OPERATOR (exit 1), naming the expired certificate"
else
	not_ok "expired basis: rc $rc $(tail -c 2000 "$WORK/exp.err") $(tail -c 2000 "$WORK/exp.out")"
fi
if [[ $(cat "$CA/log" 2>/dev/null) == "$cabefore" && $(win_state "$WR") == "$before" ]]; then
	ok "expired basis: no CA contact (the CA's log unchanged), the machine byte-for-byte unchanged"
else
	not_ok "expired basis: CA log $(diff <(echo "$cabefore") "$CA/log"); machine: $(diff <(echo "$before") <(win_state "$WR"))"
fi

# ---------------------------------------------------------------- the emulated HealthService alone
# (tests/windows/emu/Scom.ps1, the host run directly on a machine of its
# own): what it logs when the registry names no certificate it can use
HR=$WORK/hs
MY=$HR/emu/cert/LocalMachine/My # (win_keyfile reads $MY)
HSK="$HR/emu/hklm/software/microsoft/microsoft operations manager/3.0"
mkdir -p "$HR/emu/services" "$HSK"
printf 'Running Automatic\n' >"$HR/emu/services/HealthService"
echo '{}' >"$HR/emu/scom.json"
hs_start() { # SERIAL-HEX SYSTEM-GRANT(0|1) THUMBPRINT: restarts HealthService -> $hs (the event's id and message)
	printf '{"ChannelCertificateSerialNumber": {"kind": "Binary", "value": "%s"}}' "$1" >"$HSK/machine settings.json"
	if [[ $2 == 1 ]]; then jq -n --arg a "$(win_keyfile "$3")" '{($a | ascii_downcase): {"S-1-5-18": 1179785}}'; else echo '{}'; fi >"$HR/emu/acl.json"
	RENEWD_WIN_ROOT=$HR "$ROOT/tests/windows/bin/host/renewd-pshost" -NoProfile -NonInteractive -Command 'Restart-Service -Name HealthService -Force'
	hs=$(tail -n1 "$HR/emu/events/Operations Manager.jsonl" | jq -r '"\(.id) \(.provider): \(.message)"')
}
T_HS=$(win_seed_cert "$HR" My "$WORK/gw.pem" "$WORK/gw.key" capi hs)
hs_start "$(openssl x509 -in "$WORK/gw.pem" -noout -serial | sed 's/.*=//')" 1 "$T_HS"
if [[ $hs == "20077 $OPSMGR: "*"no certificate with serial number"* ]]; then ok "HealthService: a serial not reversed names no certificate: 20077"; else not_ok "HealthService, serial not reversed: $hs"; fi
hs_start "$(win_serial_reversed "$WORK/gw.pem")" 0 "$T_HS"
if [[ $hs == "20077 $OPSMGR: "*"cannot read the private key of $T_HS"* ]]; then ok "HealthService: SYSTEM cannot read the key: 20077"; else not_ok "HealthService, no key grant: $hs"; fi
rm -f "$MY"/*
T_HS=$(win_seed_cert "$HR" My "$WORK/exp.pem" "$WORK/exp.key" capi hs)
hs_start "$(win_serial_reversed "$WORK/exp.pem")" 1 "$T_HS"
if [[ $hs == "20050 $OPSMGR: "*"not currently valid"* ]]; then ok "HealthService: an expired certificate: 20050"; else not_ok "HealthService, expired: $hs"; fi

# ---------------------------------------------------------------- refused values
# CR/LF and 70 KB cannot be an account or a registry name: renewd refuses
# the runbook (exit 2) naming the step, the parameter and why, before any
# host is contacted
LONG=$(head -c 71680 /dev/zero | tr '\0' x)
refused() { # STEP PARAM VALUE WHY: the lab runbook with steps[STEP].params[PARAM] = VALUE is refused
	jq --argjson n "$1" --arg p "$2" --arg v "$3" '.steps[$n].params[$p] = $v' "$RB" >"$WORK/bad.json"
	"$RENEWD" validate "$WORK/bad.json" >"$WORK/bad.out" 2>&1; rc=$?
	local name
	name=$(jq -r --argjson n "$1" '.steps[$n].name' "$RB")
	if [[ $rc == 2 ]] && grep -qF "steps[$1] ($name): " "$WORK/bad.out" && grep -qF "\"$2\" $4" "$WORK/bad.out"; then
		ok "refused: $name's \"$2\" $4 (exit 2)"
	else not_ok "not refused: step $1 $2 ($4): rc $rc $(head -c 500 "$WORK/bad.out")"; fi
}
refused 1 account "$HACC"$'\r\n'x 'must not contain control characters'
refused 1 account "CORP\\svc\"x" 'must be an account name'
refused 1 account "$LONG" 'is longer than 256 characters'
refused 4 key "$HKEY"$'\r\n'x 'must not contain control characters'
refused 4 key "HKLM\\$LONG" 'is longer than 1024 characters'
refused 4 value "$HVAL"$'\n'x 'must not contain control characters'
refused 4 value "$LONG" 'is longer than 255 characters'

echo "windows_scom: $(($(date +%s) - t0)) s"
finish

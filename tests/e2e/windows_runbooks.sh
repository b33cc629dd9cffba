#!/usr/bin/env bash
# windows_runbooks.sh — shipped Windows runbooks run by the real renewd over
# real SSH against the lab's emulated Windows host (contrib/lab/winhost,
# tests/windows/emu: certreq.exe against the lab CA, scheduled tasks as
# SYSTEM, key ACLs, IIS and NDES, the Application log).
#
# runbooks/windows-ndes-ra-pair.json (a lab copy: address, SSH, the event
# wait shortened): `plan` and `run --whatif` leave the machine
# byte-for-byte unchanged; `run` renews both RA certificates from the lab
# CA through certreq (RenewalCert, submitted by a SYSTEM task, accepted
# into LocalMachine\My with its key), grants the NDES pool's account read
# on each new key, prunes the superseded certificates, runs iisreset and
# restarts the connector, and NDES (loaded by GetCACaps) logs Event 1;
# a run whose Event 1 never comes rolls back to the old certificates;
# requests pending at the CA are retrieved by the next run without a
# second submission; a denial fails the job and leaves the store as it was.
# The plan and the run are traced (RENEWD_TRACE_REMOTE): their scripts go
# in the request count measured with the Windows batches (3 for the plan's
# 11 scripts, 36 for the run's 54; one per script before), all of a job's
# requests in one powershell.exe (the Windows session).
# Needs root. Prints "windows_runbooks: N passed, M failed".
set -uo pipefail
TEST=windows_runbooks
LAB_DIR_NAME=${WINRB_DIR:-/var/lib/renewd-lab-winrb}
LAB_NETNS=${WINRB_NETNS:-renewd-lab-winrb}
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
# the RA pair from the lab CA (the CA certreq submits to), due within the
# runbook's 60 days; CORP\svc_ndes runs the SCEP pool and reads both keys
win_ndes_pair 30 20

# ---------------------------------------------------------------- plan, run --whatif
before=$(win_state "$WR")
RENEWD_TRACE_REMOTE=$WORK/plan.trace "$LAB" exec -- "$RENEWD" plan "$RB" --json >"$WORK/plan.out" 2>"$WORK/plan.err"; rc=$?
if [[ $rc == 10 ]] && jq -e --arg a "$T_CEP" --arg b "$T_EEA" '[.. | strings | select(. == $a or . == $b)] | unique | length == 2' "$WORK/plan.out" >/dev/null; then
	ok "plan: both RA certificates found and due (exit 10)"
else not_ok "plan: rc $rc $(head -c 2000 "$WORK/plan.err") $(head -c 2000 "$WORK/plan.out")"; fi
rd whatif run "$RB" --whatif --force --json
if [[ $rc == 10 ]]; then ok "run --whatif: would renew (exit 10)"; else not_ok "run --whatif: rc $rc $(head -c 2000 "$WORK/whatif.err")"; fi
after=$(win_state "$WR")
if [[ $before == "$after" ]]; then ok "plan and run --whatif: the emulated machine is byte-for-byte unchanged"; else not_ok "plan/whatif changed the machine: $(diff <(echo "$before") <(echo "$after"))"; fi

# ---------------------------------------------------------------- run
m_svc=$(win_mark "$WR/emu/services.log") m_ev=$(win_mark "$WR/emu/events/Application.jsonl")
RENEWD_TRACE_REMOTE=$WORK/run.trace rd run run "$RB" --force --json
if [[ $rc == 10 ]]; then ok "run: renewed (exit 10)"; else not_ok "run: rc $rc $(tail -c 3000 "$WORK/run.err")"; fi
mapfile -t NEW < <(cd "$MY" && ls -- *.cer | sed 's/\.cer$//' | grep -vx -e "$T_CEP" -e "$T_EEA")
if [[ ${#NEW[@]} == 2 && ! -e $MY/$T_CEP.cer && ! -e $MY/$T_EEA.cer ]]; then
	ok "run: two new certificates in LocalMachine\\My, the superseded ones pruned"
else
	not_ok "run: My holds $(cd "$MY" && ls)"
fi
grants=0
for t in "${NEW[@]}"; do
	openssl x509 -inform DER -in "$MY/$t.cer" -out "$WORK/$t.pem" 2>/dev/null
	openssl verify -CAfile "$CA/ca.pem" "$WORK/$t.pem" >/dev/null 2>&1 || not_ok "run: $t does not chain to the lab CA"
	k=$(win_keyfile "$t")
	jq -e --arg k "${k,,}" --arg s "$SVC_SID" '.[$k][$s] == 1179785' "$WR/emu/acl.json" >/dev/null && grants=$((grants + 1))
	[[ -f $WR/c/ProgramData/Microsoft/Crypto/$(sed -n 6p "$MY/$t.keyprov" | tr '\\' /) ]] || not_ok "run: no key file for $t"
done
if ((grants == 2)); then ok "run: CORP\\svc_ndes reads both new keys (key ACL)"; else not_ok "run: key ACL grants $grants: $(cat "$WR/emu/acl.json")"; fi
templates=$(for t in "${NEW[@]}"; do openssl x509 -in "$WORK/$t.pem" -noout -subject; done | sort | paste -sd,)
if [[ $templates == "subject=CN = NDES01-EEA,subject=CN = NDES01-MSCEP-RA" ]]; then ok "run: the new certificates keep their subjects"; else not_ok "run: subjects $templates"; fi
if [[ $(grep -c ' submit Certificate retrieved' "$CA/log") == 2 ]]; then ok "run: two RenewalCert requests issued by the lab CA (submitted as SYSTEM)"; else not_ok "run: CA log: $(cat "$CA/log" 2>/dev/null)"; fi
if win_since "$WR/emu/services.log" "$m_svc" | awk '{print $3}' | sort | paste -sd, | grep -qx 'NDESConnectorSvc,W3SVC,WAS'; then
	ok "run: iisreset and the connector restarted"
else
	not_ok "run: services.log: $(cat "$WR/emu/services.log")"
fi
if win_since "$WR/emu/events/Application.jsonl" "$m_ev" | jq -se --arg p "$NDESP" 'any(.[]; .id == 1 and .provider == $p) and all(.[]; .id != 2)' >/dev/null; then
	ok "run: NDES loaded by GetCACaps and logged Event 1 (no Event 2)"
else
	not_ok "run: events: $(cat "$WR/emu/events/Application.jsonl")"
fi
if ! find "$WR/emu/cert/LocalMachine/REQUEST" "$WR/emu/tasks" -type f 2>/dev/null | grep -q .; then
	ok "run: no request left in the REQUEST store, no scheduled task left"
else
	not_ok "run: left behind: $(find "$WR/emu/cert/LocalMachine/REQUEST" "$WR/emu/tasks" -type f)"
fi

# the Windows batches and session (transport/remote_win.c): each phase's
# scripts of the host's steps in one request (a round trip, "trip" in the
# trace), every request of the job in one powershell.exe (an execution,
# "exec"), where each script was one before (RENEWD_WINDOWS_BATCH=0: one
# per script; RENEWD_REMOTE_SESSION=0: one per round trip)
pwsh_count() { # TRACE: "SCRIPTS TRIPS PROCESSES"
	jq -rs '"\(length) \([.[].trip] | unique | length) \([.[].exec] | unique | length)"' "$1"
}
read -r ps pt pn < <(pwsh_count "$WORK/plan.trace")
if [[ "$ps $pt $pn" == "11 3 1" ]]; then ok "plan: $ps scripts in $pt requests of $pn powershell.exe (11 before: one per script)"; else not_ok "plan: $ps scripts in $pt requests of $pn powershell.exe, not 11 in 3 of 1"; fi
read -r rs rt rn < <(pwsh_count "$WORK/run.trace")
if [[ "$rs $rt $rn" == "54 36 1" ]]; then ok "run: $rs scripts in $rt requests of $rn powershell.exe (54 before: one per script)"; else not_ok "run: $rs scripts in $rt requests of $rn powershell.exe, not 54 in 36 of 1"; fi

# ---------------------------------------------------------------- rollback
# NDES logs nothing this time: the event step fails after both issuances
# and the job rolls back to the certificates of the first run
printf '{"app_pool": "SCEP", "templates": ["CEPEncryption", "EnrollmentAgentOffline"], "events": false}\n' >"$WR/emu/ndes.json"
chown "$LAB_USER" "$WR/emu/ndes.json"
mine=$(cd "$MY" && ls | sort | paste -sd,)
rd rb run "$RB" --force --json
if [[ $rc == 1 ]]; then ok "run without Event 1: the job fails (exit 1)"; else not_ok "rollback run: rc $rc $(tail -c 3000 "$WORK/rb.err")"; fi
if [[ ${#NEW[@]} == 2 && $mine == *"${NEW[0]}.keyprov"* && $mine == *"${NEW[1]}.keyprov"* && $(cd "$MY" && ls | sort | paste -sd,) == "$mine" ]]; then
	ok "rollback: LocalMachine\\My holds the first run's certificates again, linked to their keys"
else
	not_ok "rollback: My was [$mine], now [$(cd "$MY" && ls | sort | paste -sd,)]"
fi

# ---------------------------------------------------------------- pending, then retrieved
# the CA holds the requests for a manager: the job waits (PENDING_CA); once
# issued, the next run retrieves them by RequestId without a new submission
printf '{"app_pool": "SCEP", "templates": ["CEPEncryption", "EnrollmentAgentOffline"], "events": true}\n' >"$WR/emu/ndes.json"
echo pend >"$CA/disposition"
chown "$LAB_USER" "$WR/emu/ndes.json" "$CA/disposition"
mine=$(cd "$MY" && ls | sort | paste -sd,)
rd pend run "$RB" --force --json
npend=$(grep -c ' submit Certificate request is pending' "$CA/log")
if ((npend >= 1)) && [[ $(cd "$MY" && ls | sort | paste -sd,) == "$mine" ]]; then
	ok "pending at the CA: the job waits (exit $rc), the certificates unchanged"
else
	not_ok "pending: rc $rc, CA log $(cat "$CA/log"), $(tail -c 2000 "$WORK/pend.err")"
fi
echo issue >"$CA/disposition"
subs=$(grep -c ' submit ' "$CA/log")
rd retr run "$RB" --force --json
if [[ $rc == 10 ]] && grep -q ' retrieve Certificate retrieved' "$CA/log" &&
	[[ $(grep -c ' submit ' "$CA/log") == $((subs + 2 - npend)) ]]; then
	ok "the next run retrieved the pending request(s) without submitting them again (exit 10)"
else
	not_ok "retrieve: rc $rc, CA log $(cat "$CA/log"), $(tail -c 2000 "$WORK/retr.err")"
fi

# ---------------------------------------------------------------- denied
echo deny >"$CA/disposition"
mine=$(cd "$MY" && ls | sort | paste -sd,)
rd deny run "$RB" --force --json
if [[ $rc == 1 ]] && grep -q 'Denied' "$WORK/deny.err" && [[ $(cd "$MY" && ls | sort | paste -sd,) == "$mine" ]] &&
	! find "$WR/emu/cert/LocalMachine/REQUEST" -type f | grep -q .; then
	ok "denied by the CA: the job fails naming the denial, the store unchanged, the request's key removed"
else
	not_ok "denied: rc $rc, $(tail -c 2000 "$WORK/deny.err"), REQUEST $(ls "$WR/emu/cert/LocalMachine/REQUEST")"
fi

echo "windows_runbooks: $(($(date +%s) - t0)) s"
finish

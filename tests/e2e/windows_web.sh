#!/usr/bin/env bash
# windows_web.sh — the shipped IIS site and SQL Server runbooks run by the
# real renewd over real SSH against the lab's emulated Windows host
# (contrib/lab/winhost, tests/windows/emu: Iis.ps1, Sql.ps1), whose https
# binding and SQL Server serve real TLS (tests/windows/emu/listener.sh).
#
# runbooks/windows-iis-site.json (a lab copy: address, SSH, the lab CA's
# config, tls.verify trusting the lab CA): `plan` and `run --whatif` leave
# the machine byte-for-byte unchanged; `run` renews the site's certificate
# from the lab CA, binds it to https/443 (AddSslCertificate), renewd's
# tls.verify handshakes with the endpoint, which serves it (checked here
# too with openssl s_client), and the superseded certificate is pruned; a
# run whose endpoint keeps serving the old certificate (emu/iis/stale)
# fails tls.verify and rolls back: the previous certificate in My and in
# the binding, served.
# runbooks/windows-sql-server.json: the same; `run` grants NT
# Service\MSSQLSERVER read on the new key, moves SuperSocketNetLib's
# Certificate, restarts SQL Server, which serves the new certificate on
# 1433; when the instance runs as another account (which cannot read the
# new key) SQL Server does not start, and the job rolls back: the registry
# value restored, SQL Server started again with the previous certificate.
# `lab down` ends the listeners. Needs root. Prints "windows_web: N
# passed, M failed".
set -uo pipefail
TEST=windows_web
LAB_DIR_NAME=${WINWEB_DIR:-/var/lib/renewd-lab-winweb}
LAB_NETNS=${WINWEB_NETNS:-renewd-lab-winweb}
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
MSSQL_SID=S-1-5-80-3880718306-3832830129-1677859214-2598158968-1052248003
SVC_SQL_SID=S-1-5-21-1004336348-1177238915-682003330-1107
SQLKEY=$WR/emu/hklm/software/microsoft/microsoft\ sql\ server

# ---------------------------------------------------------------- the machine
# web01's and sql01's certificates from the lab CA, due within 30 days (v2
# templates the machine knows); the Default Web Site with https on 443;
# SQL Server 2022's default instance running as NT Service\MSSQLSERVER,
# which reads its certificate's key
V2=1.3.6.1.4.1.311.21.8.4242.7
mkdir -p "$WR/emu/iis/sites" "$WR/emu/services" "$WR/emu/events" "$SQLKEY/instance names" "$SQLKEY/mssql16.mssqlserver/mssqlserver"
printf '%s\n' "$V2.2 ConfigMgrWebServerCertificates" "$V2.3 SQLServerTLS" >"$WR/emu/templates"
win_issue "$CA" "$WORK/web" web01.corp.example ConfigMgrWebServerCertificates 20 "$V2.2"
win_issue "$CA" "$WORK/sql" sql01.corp.example SQLServerTLS 20 "$V2.3"
T_WEB=$(win_seed_cert "$WR" My "$WORK/web.pem" "$WORK/web.key" cng web-container)
T_SQL=$(win_seed_cert "$WR" My "$WORK/sql.pem" "$WORK/sql.key" capi sql-container)
win_seed_cert "$WR" Root "$CA/ca.pem" >/dev/null
printf '{"id": 1, "bindings": [{"protocol": "http", "bindingInformation": "*:80:", "sslFlags": 0}, {"protocol": "https", "bindingInformation": "*:443:", "sslFlags": 0}]}\n' \
	>"$WR/emu/iis/sites/Default Web Site.json"
for s in W3SVC WAS MSSQLSERVER Schedule; do printf 'Running Automatic\n' >"$WR/emu/services/$s"; done
: >"$WR/emu/events/Application.jsonl"
printf '%s NT SERVICE\\MSSQLSERVER\n%s CORP\\svc_sql\n' "$MSSQL_SID" "$SVC_SQL_SID" >"$WR/emu/accounts"
printf '{"service": "MSSQLSERVER", "account": "NT Service\\\\MSSQLSERVER", "port": 1433}\n' >"$WR/emu/mssql.json"
printf '{"MSSQLSERVER": {"kind": "String", "value": "MSSQL16.MSSQLSERVER"}}\n' >"$SQLKEY/instance names/sql.json"
SSNL=$SQLKEY/mssql16.mssqlserver/mssqlserver/supersocketnetlib.json
printf '{"Certificate": {"kind": "String", "value": "%s"}}\n' "${T_SQL,,}" >"$SSNL"
keyfile() { # THUMBPRINT: the key file's Windows path (its .keyprov's last line)
	printf 'C:\\ProgramData\\Microsoft\\Crypto\\%s' "$(sed -n 6p "$MY/$1.keyprov")"
}
grant() { # THUMBPRINT SID: SID reads the key (as an administrator set it)
	local k
	k=$(keyfile "$1")
	jq --arg k "${k,,}" --arg s "$2" '.[$k][$s] = 1179785' "$WR/emu/acl.json" >"$WORK/acl.json" && cat "$WORK/acl.json" >"$WR/emu/acl.json"
}
echo '{}' >"$WR/emu/acl.json"
grant "$T_SQL" "$MSSQL_SID"
chown -R "$LAB_USER" "$WR" "$CA"
# as their administrator left them: the site bound to web01's certificate,
# SQL Server started with sql01's
win_ps "Import-Module WebAdministration
(Get-WebBinding -Name 'Default Web Site' -Protocol https -Port 443).AddSslCertificate('$T_WEB', 'My')
Restart-Service -Name MSSQLSERVER" >"$WORK/seed.out" 2>&1
if [[ $(win_served 443) == "$T_WEB" && $(win_served 1433) == "$T_SQL" ]]; then
	ok "seeded: https/443 serves web01's certificate, SQL Server 1433 sql01's (real TLS listeners)"
else
	not_ok "seeding: 443 serves [$(win_served 443)], 1433 [$(win_served 1433)]: $(cat "$WORK/seed.out")"; finish; exit 1
fi

# lab copies of the shipped runbooks: this host, the lab's SSH, the CA's
# config, tls.verify trusting the lab CA
labrb() {
	jq --arg a "$ADDR" --arg u "$LAB_USER" --arg i "$LAB_KEY" --arg k "$KH" --arg c "$(cat "$CA/config")" --arg ca "$CA/ca.pem" \
		'.targets.hosts |= [.[0] | .address = $a] | .ssh.user = $u | .ssh.identity = $i | .ssh.known_hosts = $k | del(.notify)
		 | .issuer.config = $c | (.steps[] | select(.type == "tls.verify")) |= (.params.ca_file = $ca)' \
		"$ROOT/runbooks/$1" >"$WORK/$1"
	printf '%s' "$WORK/$1"
}
IIS=$(labrb windows-iis-site.json)
SQL=$(labrb windows-sql-server.json)
my() { (cd "$MY" && ls | sort | paste -sd,); }
newest() { # THUMBPRINT...: the one certificate in My that is none of these
	(cd "$MY" && ls -- *.cer | sed 's/\.cer$//' | grep -vx "${@/#/-e}")
}
renewed() { # LABEL OLD OTHER WHOSE: NEW, the one new certificate in My,
	# issued by the lab CA; OLD pruned, OTHER (WHOSE) kept
	NEW=$(newest "$2" "$3")
	if [[ -n $NEW && $NEW != *$'\n'* && ! -e $MY/$2.cer && -e $MY/$3.cer ]] &&
		openssl x509 -inform DER -in "$MY/$NEW.cer" | openssl verify -CAfile "$CA/ca.pem" >/dev/null 2>&1; then
		ok "$1: a new certificate from the lab CA in My, the superseded one pruned ($4 kept)"
	else not_ok "$1: My holds $(my)"; fi
}
binding() { jq -r '."0.0.0.0!443".certificateHash // ""' "$WR/emu/iis/sslbindings.json"; }
regthumb() { jq -r '.Certificate.value' "$SSNL" | tr a-f A-F; }

# ---------------------------------------------------------------- plan, run --whatif
before=$(win_state "$WR")
for rb in "$IIS" "$SQL"; do
	n=$(basename "$rb" .json)
	t=$T_WEB && [[ $n == *sql* ]] && t=$T_SQL
	"$LAB" exec -- "$RENEWD" plan "$rb" --json >"$WORK/plan.out" 2>"$WORK/plan.err"; rc=$?
	if [[ $rc == 10 ]] && grep -q "$t" "$WORK/plan.out"; then ok "$n: plan finds the certificate due (exit 10)"
	else not_ok "$n: plan: rc $rc $(head -c 2000 "$WORK/plan.err") $(head -c 2000 "$WORK/plan.out")"; fi
	rd "whatif-$n" run "$rb" --whatif --force --json
	if [[ $rc == 10 ]]; then ok "$n: run --whatif would renew (exit 10)"; else not_ok "$n: run --whatif: rc $rc $(tail -c 2000 "$WORK/whatif-$n.err")"; fi
done
after=$(win_state "$WR")
if [[ $before == "$after" ]]; then ok "plan and run --whatif: the emulated machine is byte-for-byte unchanged"
else not_ok "plan/whatif changed the machine: $(diff <(echo "$before") <(echo "$after"))"; fi

# ---------------------------------------------------------------- IIS: run
rd iis run "$IIS" --force --json
if [[ $rc == 10 ]]; then ok "iis: run renewed (exit 10)"; else not_ok "iis: run: rc $rc $(tail -c 3000 "$WORK/iis.err")"; fi
renewed iis "$T_WEB" "$T_SQL" "sql01's"
W1=$NEW
if [[ $(binding) == "$W1" ]]; then ok "iis: the https/443 binding names the new certificate"; else not_ok "iis: binding $(cat "$WR/emu/iis/sslbindings.json")"; fi
if grep -q 'serves the expected certificate' "$WORK/iis.out" "$WORK/iis.err"; then ok "iis: renewd's tls.verify handshook with the endpoint serving it"
else not_ok "iis: no tls.verify pass in the output: $(tail -c 2000 "$WORK/iis.err")"; fi
if [[ $(win_served 443) == "$W1" ]]; then ok "iis: openssl s_client: 443 serves the new certificate"; else not_ok "iis: 443 serves [$(win_served 443)], not $W1"; fi

# ---------------------------------------------------------------- IIS: rollback
# the endpoint keeps serving what it serves (a stale front): tls.verify
# fails after the new binding, and the job puts the first run's back
touch "$WR/emu/iis/stale" && chown "$LAB_USER" "$WR/emu/iis/stale"
mine=$(my)
rd iisrb run "$IIS" --force --json
rm -f "$WR/emu/iis/stale"
if [[ $rc == 1 ]] && grep -q "serves sha256 [0-9a-f]*, expected sha256" "$WORK/iisrb.err" "$WORK/iisrb.out"; then ok "iis: an endpoint serving the old certificate fails tls.verify (exit 1)"
else not_ok "iis: rollback run: rc $rc $(tail -c 3000 "$WORK/iisrb.err")"; fi
if [[ $(my) == "$mine" && $(binding) == "$W1" && $(win_served 443) == "$W1" ]]; then
	ok "iis: rolled back: My as before, the binding names the previous certificate again, 443 serves it"
else not_ok "iis: after rollback My [$(my)] (was [$mine]), binding $(binding), 443 serves [$(win_served 443)]"; fi

# ---------------------------------------------------------------- SQL Server: run
m_svc=$(win_mark "$WR/emu/services.log")
rd sql run "$SQL" --force --json
if [[ $rc == 10 ]]; then ok "sql: run renewed (exit 10)"; else not_ok "sql: run: rc $rc $(tail -c 3000 "$WORK/sql.err")"; fi
renewed sql "$T_SQL" "$W1" "web01's"
S1=$NEW
k=$(keyfile "$S1" 2>/dev/null)
if jq -e --arg k "${k,,}" --arg s "$MSSQL_SID" '.[$k][$s] == 1179785' "$WR/emu/acl.json" >/dev/null; then ok "sql: NT Service\\MSSQLSERVER reads the new key (key ACL)"
else not_ok "sql: key ACL: $(cat "$WR/emu/acl.json")"; fi
if [[ $(regthumb) == "$S1" ]]; then ok "sql: SuperSocketNetLib\\Certificate names the new certificate"; else not_ok "sql: registry $(cat "$SSNL")"; fi
if win_since "$WR/emu/services.log" "$m_svc" | awk '$3 == "MSSQLSERVER"' | grep -q . && [[ $(cat "$WR/emu/services/MSSQLSERVER") == Running* ]]; then
	ok "sql: SQL Server restarted and running"
else not_ok "sql: services.log $(cat "$WR/emu/services.log"), $(cat "$WR/emu/services/MSSQLSERVER")"; fi
if grep -q 'serves the expected certificate' "$WORK/sql.out" "$WORK/sql.err" && [[ $(win_served 1433) == "$S1" ]]; then
	ok "sql: tls.verify and openssl s_client: 1433 serves the new certificate"
else not_ok "sql: 1433 serves [$(win_served 1433)], not $S1: $(tail -c 2000 "$WORK/sql.err")"; fi

# ---------------------------------------------------------------- SQL Server: rollback
# the instance runs as CORP\svc_sql (read on its key granted by hand): the
# runbook grants NT Service\MSSQLSERVER only, SQL Server cannot load the
# next certificate and does not start; the job restores the registry
# value and starts SQL Server again, which serves the previous certificate
printf '{"service": "MSSQLSERVER", "account": "CORP\\\\svc_sql", "port": 1433}\n' >"$WR/emu/mssql.json"
grant "$S1" "$SVC_SQL_SID"
chown "$LAB_USER" "$WR/emu/mssql.json" "$WR/emu/acl.json"
mine=$(my)
rd sqlrb run "$SQL" --force --json
if [[ $rc == 1 ]] && jq -se 'any(.[]; .id == 26014 and (.message | test("0x8009030d")))' "$WR/emu/events/Application.jsonl" >/dev/null; then
	ok "sql: SQL Server cannot read the next key, does not start (event 26014), the job fails (exit 1)"
else not_ok "sql: rollback run: rc $rc, events $(cat "$WR/emu/events/Application.jsonl") $(tail -c 3000 "$WORK/sqlrb.err")"; fi
if [[ $(my) == "$mine" && $(regthumb) == "$S1" && $(cat "$WR/emu/services/MSSQLSERVER") == Running* && $(win_served 1433) == "$S1" ]]; then
	ok "sql: rolled back: My as before, the registry value restored, SQL Server running and serving the previous certificate"
else not_ok "sql: after rollback My [$(my)] (was [$mine]), registry $(regthumb), $(cat "$WR/emu/services/MSSQLSERVER"), 1433 serves [$(win_served 1433)]"; fi

# ---------------------------------------------------------------- lab down
# the listeners run in the lab's network namespace: `lab down` ends them
up=$(pgrep -fc "s_server .*$WR/") || true
"$LAB" down >/dev/null 2>&1
if [[ $up == 2 ]] && ! pgrep -f "s_server .*$WR/" >/dev/null; then ok "lab down: both TLS listeners ended"
else not_ok "lab down: $up listeners before, after: $(pgrep -af "s_server .*$WR/")"; fi

echo "windows_web: $(($(date +%s) - t0)) s"
finish

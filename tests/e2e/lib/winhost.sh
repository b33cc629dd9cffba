# winhost.sh — sourced by the Windows lab e2e tests: seeding and reading
# the emulated Windows host's machine (contrib/lab/winhost,
# tests/windows/emu/RenewdWindows.psm1 documents the layout).

# win_seed_cert ROOT STORE CERT.pem [KEY.pem capi|cng CONTAINER]: puts a
# certificate into Cert:\LocalMachine\STORE of the machine at ROOT
# (RENEWD_WIN_ROOT), with its private key where Windows keeps a machine
# key: CAPI (Microsoft Enhanced RSA and AES Cryptographic Provider, type 24)
# in RSA\MachineKeys\<MD5 of the container name>_<machine GUID>, CNG
# (Microsoft Software Key Storage Provider, type 0) in Keys\<unique name>.
# Prints the thumbprint.
win_seed_cert() {
	local root=$1 store=$2 pem=$3 key=${4:-} kind=${5:-capi} cont=${6:-renewd-test} d thumb rel
	d=$root/emu/cert/LocalMachine/$store
	mkdir -p "$d"
	thumb=$(openssl x509 -in "$pem" -noout -fingerprint -sha1 | sed 's/.*=//; s/://g')
	openssl x509 -in "$pem" -outform DER -out "$d/$thumb.cer"
	if [ -n "$key" ]; then
		if [ "$kind" = cng ]; then
			rel="Keys\\$(printf '%s' "$cont" | sha1sum | cut -c1-40)_$WIN_MACHINE_GUID"
			printf '%s\n' "$cont" 'Microsoft Software Key Storage Provider' 0 32 0 "$rel" >"$d/$thumb.keyprov"
		else
			rel="RSA\\MachineKeys\\$(printf '%s' "$cont" | tr 'A-Z' 'a-z' | md5sum | cut -c1-32)_$WIN_MACHINE_GUID"
			printf '%s\n' "$cont" 'Microsoft Enhanced RSA and AES Cryptographic Provider' 24 32 1 "$rel" >"$d/$thumb.keyprov"
		fi
		mkdir -p "$root/c/ProgramData/Microsoft/Crypto/$(dirname "${rel//\\//}")"
		# (the container's properties first, as RenewdWindows' key files hold them)
		{
			sed -n '1p;2p;3p;5p' "$d/$thumb.keyprov" | paste -d' ' <(printf '%s\n' Container: Provider: ProviderType: KeySpec:) -
			openssl pkcs8 -topk8 -nocrypt -in "$key"
		} >"$root/c/ProgramData/Microsoft/Crypto/${rel//\\//}"
	fi
	printf '%s\n' "$thumb"
}
WIN_MACHINE_GUID=6f1c2a3b-0c4d-4e5f-8a9b-0123456789ab

# win_state ROOT: one line per file of the emulated machine (path, size,
# SHA-256), to compare the machine before and after
win_state() {
	(cd "$1" && find . -type f -print0 | sort -z | xargs -0r sha256sum)
}

# win_issue CADIR OUT NAME TEMPLATE DAYS [V2-OID]: OUT.pem/OUT.key, a
# certificate for CN=NAME from the CA in CADIR (ca.pem, ca.key) naming its
# template as AD CS does: a v1 template by name (certificateTemplateName,
# BMPString), a v2 one by OID (CertificateTemplate)
win_issue() {
	local ca=$1 out=$2 name=$3 tmpl=$4 days=$5 oid=${6:-}
	openssl req -utf8 -newkey rsa:2048 -nodes -keyout "$out.key" -out "$out.csr" \
		-subj "/CN=$(printf '%s' "$name" | sed 's#[/+=\\]#\\&#g')" 2>/dev/null || return 1
	if [ -n "$oid" ]; then
		printf '1.3.6.1.4.1.311.21.7=ASN1:SEQUENCE:tmpl\nkeyUsage=critical,digitalSignature,keyEncipherment\n[tmpl]\noid=OID:%s\nmajor=INTEGER:100\nminor=INTEGER:3\n' "$oid"
	else
		printf '1.3.6.1.4.1.311.20.2=ASN1:BMPSTRING:%s\nkeyUsage=critical,digitalSignature,keyEncipherment\n' "$tmpl"
	fi >"$out.ext"
	openssl x509 -req -in "$out.csr" -CA "$ca/ca.pem" -CAkey "$ca/ca.key" -CAcreateserial -days "$days" -out "$out.pem" \
		-extfile "$out.ext" -extensions default 2>/dev/null
}

# win_lab_begin: the set-up of an e2e test of the emulated Windows host,
# after tests/e2e/lib/labtest.sh (TEST, LAB_DIR_NAME, LAB_NETNS set before
# it): lab_begin (skips unless root; $WORK, $JOURNAL, a fresh 1-host lab),
# the host built (tests/windows/build.sh) and `lab win up --fresh`; then
# W (the host's directory), WR (the machine's root, RENEWD_WIN_ROOT), CA
# (the CA its certreq reaches), ADDR, KH (its known_hosts), MY (its
# LocalMachine\My).
win_lab_begin() {
	lab_begin 1
	command -v dotnet >/dev/null || { echo "$TEST: dotnet is missing; run contrib/tests-deps.sh" >&2; exit 2; }
	bash "$ROOT/tests/windows/build.sh" >/dev/null || { echo "$TEST: cannot build the host" >&2; exit 2; }
	"$LAB" win up --fresh >>"$WORK/up.log" 2>&1 || { not_ok "lab win up"; cat "$WORK/up.log"; finish; exit 1; }
	W=$LAB_DIR/win
	WR=$W/root
	CA=$W/adcs
	ADDR=$("$LAB" win addr)
	KH=$W/known_hosts
	MY=$WR/emu/cert/LocalMachine/My
}

# win_keyfile THUMBPRINT: the Windows path of the key file of a certificate
# in $MY (its .keyprov's last line)
win_keyfile() {
	printf 'C:\\ProgramData\\Microsoft\\Crypto\\%s' "$(sed -n 6p "$MY/$1.keyprov")"
}

# win_serial_reversed CERT: the serial number's DER content bytes (a sign
# byte kept) in reverse order, uppercase hex — what MOMCertImport writes to
# ChannelCertificateSerialNumber. CERT is PEM or DER. From the DER itself,
# not `openssl x509 -serial`, which drops a leading 00 byte.
win_serial_reversed() {
	openssl x509 -in "$1" -outform DER 2>/dev/null | /usr/bin/python3 -c '
import sys
d = sys.stdin.buffer.read()
def tlv(b, i):  # -> (tag, content start, content end)
    n = b[i + 1]; j = i + 2
    if n & 0x80:
        k = n & 0x7f; n = int.from_bytes(b[j:j + k], "big"); j += k
    return b[i], j, j + n
_, c, _ = tlv(d, 0)            # Certificate
_, t, _ = tlv(d, c)            # TBSCertificate
tag, _, e = tlv(d, t)
if tag == 0xa0:                # [0] version
    t = e
_, s, e = tlv(d, t)            # serialNumber
sys.stdout.write(d[s:e][::-1].hex().upper())'
}

# win_lab_runbook SHIPPED OUT [JQ [JQ-ARGS...]]: a lab copy of
# runbooks/SHIPPED in OUT — the first host at this lab's address, the lab's
# SSH login, no notify, the event wait shortened to 5 s — then the jq
# filter JQ (default: .) with its --arg options
win_lab_runbook() {
	local src=$ROOT/runbooks/$1 out=$2 f=${3:-.}
	shift $(($# < 3 ? $# : 3))
	jq --arg a "$ADDR" --arg u "$LAB_USER" --arg i "$LAB_KEY" --arg k "$KH" "$@" \
		'.targets.hosts |= [.[0] | .address = $a] | .ssh.user = $u | .ssh.identity = $i | .ssh.known_hosts = $k | del(.notify)
		 | (.steps[] | select(.type == "windows.event_verify")) |= (.params.within = "5s" | .timeout = "1m")
		 | '"$f" "$src" >"$out"
}

# win_reissue_expired CADIR OUT: OUT.pem issued again by the CA in CADIR
# from win_issue's OUT.csr and OUT.ext, valid from 60 days ago until
# yesterday (an expired certificate)
win_reissue_expired() {
	local ca=$1 out=$2 d
	d=$(mktemp -d)
	: >"$d/index.txt"
	openssl rand -hex 8 >"$d/serial"
	printf '[ca]\ndefault_ca = x\n[x]\ndatabase = %s/index.txt\nnew_certs_dir = %s\nserial = %s/serial\ndefault_md = sha256\npolicy = p\nunique_subject = no\n[p]\ncommonName = supplied\n' \
		"$d" "$d" "$d" >"$d/ca.cnf"
	openssl ca -batch -notext -preserveDN -config "$d/ca.cnf" -cert "$ca/ca.pem" -keyfile "$ca/ca.key" -in "$out.csr" -out "$out.pem" \
		-startdate "$(date -u -d '-60 days' +%Y%m%d%H%M%SZ)" -enddate "$(date -u -d '-1 day' +%Y%m%d%H%M%SZ)" \
		-extfile "$out.ext" -extensions default >/dev/null 2>&1
	local rc=$?
	rm -rf "$d"
	return $rc
}

# win_lab_up: win_lab_begin, timed from now ($t0), and its ok line
win_lab_up() {
	t0=$(date +%s)
	win_lab_begin
	ok "lab up, lab win up ($(($(date +%s) - t0)) s)"
}

# win_whatif RB BEFORE: `run --whatif` of RB must say it would renew (exit
# 10), and the machine must be byte-for-byte as BEFORE (win_state, taken
# before `plan`)
win_whatif() {
	rd whatif run "$1" --whatif --force --json
	if [[ $rc == 10 ]]; then ok "run --whatif: would renew (exit 10)"; else not_ok "run --whatif: rc $rc $(head -c 2000 "$WORK/whatif.err")"; fi
	local after
	after=$(win_state "$WR")
	if [[ $2 == "$after" ]]; then ok "plan and run --whatif: the emulated machine is byte-for-byte unchanged"; else not_ok "plan/whatif changed the machine: $(diff <(echo "$2") <(echo "$after"))"; fi
}

# win_run RB: `run --force` of RB must renew (exit 10); $m_svc and $m_oml:
# services.log's and the Operations Manager log's win_mark before it began
win_run() {
	m_svc=$(win_mark "$WR/emu/services.log")
	m_oml=$(win_mark "$WR/emu/events/Operations Manager.jsonl")
	rd run run "$1" --force --json
	if [[ $rc == 10 ]]; then ok "run: renewed (exit 10)"; else not_ok "run: rc $rc $(tail -c 3000 "$WORK/run.err")"; fi
}

# win_ps SCRIPT: runs the PowerShell SCRIPT on the emulated host (after
# win_lab_begin) as an administrator would, over its sshd:
# powershell.exe -EncodedCommand (base64 of its UTF-16LE text)
win_ps() {
	local enc
	enc=$(printf '%s' "$1" | iconv -f UTF-8 -t UTF-16LE | base64 -w0)
	"$LAB" exec -- ssh -q -i "$LAB_KEY" -o UserKnownHostsFile="$KH" -o StrictHostKeyChecking=yes -o BatchMode=yes \
		"$LAB_USER@$ADDR" "powershell.exe -NoProfile -NonInteractive -EncodedCommand $enc"
}

# win_served PORT: the SHA-1 thumbprint of the certificate the emulated
# host serves on PORT (a TLS handshake from the lab's netns), or nothing
win_served() {
	"$LAB" exec -- openssl s_client -connect "$ADDR:$1" </dev/null 2>/dev/null |
		openssl x509 -noout -fingerprint -sha1 2>/dev/null | sed 's/.*=//; s/://g'
}

# win_ndes_pair [DAYS_CEP DAYS_EEA]: after win_lab_begin, the NDES server
# of runbooks/windows-ndes-ra-pair.json on the emulated machine: the RA
# pair (CEPEncryption, EnrollmentAgentOffline) issued by the lab CA for
# DAYS (default 30 and 20: due within the runbook's 60 days), with their
# keys (CAPI, CNG) in LocalMachine\My, the lab CA in Root, CORP\svc_ndes
# running the SCEP pool and reading both keys, IIS, the connector and NDES
# (logging its events), an empty Application log. Sets NDESP (NDES's
# provider), SVC_SID (svc_ndes), T_CEP, T_EEA (the pair's thumbprints) and
# RB (the lab copy of the runbook: address, SSH, the event wait shortened).
# Fails (ends the test) when the seeding does.
win_ndes_pair() {
	local e=$WR/emu
	NDESP=Microsoft-Windows-NetworkDeviceEnrollmentService
	SVC_SID=S-1-5-21-1004336348-1177238915-682003330-1105
	win_issue "$CA" "$WORK/cep" NDES01-MSCEP-RA CEPEncryption "${1:-30}"
	win_issue "$CA" "$WORK/eea" NDES01-EEA EnrollmentAgentOffline "${2:-20}"
	T_CEP=$(win_seed_cert "$WR" My "$WORK/cep.pem" "$WORK/cep.key" capi 'CEP-RA-container')
	T_EEA=$(win_seed_cert "$WR" My "$WORK/eea.pem" "$WORK/eea.key" cng 'EEA-RA-container')
	win_seed_cert "$WR" Root "$CA/ca.pem" >/dev/null
	printf '%s CORP\\svc_ndes\n' "$SVC_SID" >"$e/accounts"
	mkdir -p "$e/iis/apppools" "$e/services" "$e/events"
	printf '{"identityType": "SpecificUser", "userName": "CORP\\\\svc_ndes"}\n' >"$e/iis/apppools/SCEP.json"
	printf '{"app_pool": "SCEP", "templates": ["CEPEncryption", "EnrollmentAgentOffline"], "events": true}\n' >"$e/ndes.json"
	for s in W3SVC WAS NDESConnectorSvc Schedule; do printf 'Running Automatic\n' >"$e/services/$s"; done
	: >"$e/events/Application.jsonl"
	jq -n --arg a "$(win_keyfile "$T_CEP")" --arg b "$(win_keyfile "$T_EEA")" --arg s "$SVC_SID" \
		'{($a | ascii_downcase): {($s): 1179785}, ($b | ascii_downcase): {($s): 1179785}}' >"$e/acl.json"
	chown -R "$LAB_USER" "$WR" "$CA"
	if [[ -n $T_CEP && -n $T_EEA ]]; then ok "seeded: the NDES RA pair from the lab CA"; else not_ok "seeding failed"; finish; exit 1; fi
	RB=$WORK/ndes-pair.json
	win_lab_runbook windows-ndes-ra-pair.json "$RB" '(.steps[] | select(.type == "windows.event_verify")) |= (.params.within = "10s")'
}

# win_mark FILE: how many lines FILE holds now (0 when it does not exist) —
# a mark that win_since reads from. Lines, not seconds: a run can follow
# another within one second, and the emulator's logs (services.log, the
# event logs) append one line per event.
win_mark() { if [ -e "$1" ]; then wc -l <"$1"; else echo 0; fi; }
# win_since FILE MARK: the lines FILE gained after win_mark gave MARK
win_since() { [ -e "$1" ] && tail -n +"$(($2 + 1))" "$1"; }

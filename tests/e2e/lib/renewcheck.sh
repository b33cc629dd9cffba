# tests/e2e/lib/renewcheck.sh — sourced by the crash, soak and fault tests
# (not a test itself): what must hold on a lab host and in the journal after
# renewd was killed or hurt and ran again.
#
# Needs: LAB (contrib/lab/lab), RENEWD_LAB_DIR with its lab.env sourced
# (LAB_CA_CERT, LAB_INVENTORY). Each check prints one line per problem, as
# "HOST: what is wrong", and returns non-zero when it found one. A journal
# is an SQLite file or a postgresql:// URI (lib/journalq.sh's jsql_at).
# shellcheck source=tests/e2e/lib/journalq.sh
. "$(dirname "${BASH_SOURCE[0]}")/journalq.sh"

# The number of certificates the lab CA has issued so far.
rc_issued() { wc -l <"$RENEWD_LAB_DIR/ca/depot/index.txt"; }

# rc_served HOST: sha256 (lowercase hex) of the certificate HOST serves on 443.
rc_served() {
	local addr
	addr=$(jq -r --arg h "$1" '.hosts[$h].address' "$LAB_INVENTORY")
	"$LAB" exec -- openssl s_client -connect "$addr:443" </dev/null 2>/dev/null |
		openssl x509 -noout -fingerprint -sha256 2>/dev/null | cut -d= -f2 | tr -d : | tr A-F a-f
}

# rc_pair_ok HOST: the host's live certificate verifies against the lab CA,
# is not expired and matches the live key (what is wrong is printed).
rc_pair_ok() {
	local h=$1 d=$RENEWD_LAB_DIR/hosts/$1/root bad=0
	if ! openssl verify -CAfile "$LAB_CA_CERT" "$d/tls/server.crt" >/dev/null 2>&1; then
		echo "$h: the live certificate does not verify against the lab CA"; bad=1
	fi
	if ! openssl x509 -in "$d/tls/server.crt" -noout -checkend 0 >/dev/null 2>&1; then
		echo "$h: the live certificate has expired"; bad=1
	fi
	if [[ $(openssl x509 -in "$d/tls/server.crt" -noout -pubkey 2>/dev/null | sha256sum) != \
		"$(openssl pkey -in "$d/tls/server.key" -pubout 2>/dev/null | sha256sum)" ]]; then
		echo "$h: the live key does not match the live certificate"; bad=1
	fi
	return "$bad"
}

# rc_host_ok HOST: rc_pair_ok, and the live certificate is what the TLS
# service serves; no staged file (.renewd-new, .renewd-tmp.*) is left beside
# the live files.
rc_host_ok() {
	local h=$1 d=$RENEWD_LAB_DIR/hosts/$1/root bad=0 live served staged
	rc_pair_ok "$h" || bad=1
	live=$(openssl x509 -in "$d/tls/server.crt" -noout -fingerprint -sha256 | cut -d= -f2 | tr -d : | tr A-F a-f)
	served=$(rc_served "$h")
	if [[ $served != "$live" ]]; then
		echo "$h: serves sha256 ${served:-(nothing)}, the live certificate is sha256 $live"; bad=1
	fi
	staged=$(find "$d/tls" "$d/etc" -name '*.renewd-new*' -o -name '*.renewd-tmp.*' 2>/dev/null)
	if [[ -n $staged ]]; then
		echo "$h: staged files left: $(tr '\n' ' ' <<<"$staged")"; bad=1
	fi
	return "$bad"
}

# rc_jobs_ok JOURNAL HOST: the host's newest job is DONE and none of its
# jobs is left unfinished (a state that is not terminal).
rc_jobs_ok() {
	local j=$1 h=$2 last open
	last=$(jsql_at "$j" "select state from jobs where host='$h' order by id desc limit 1")
	open=$(jsql_at "$j" "select id, state from jobs where host='$h' and terminal = 0 order by id" | tr '|' : | paste -sd' ')
	if [[ $last != DONE ]]; then echo "$h: the newest job is ${last:-(none)}, not DONE"; fi
	if [[ -n $open ]]; then echo "$h: unfinished jobs: $open"; fi
	[[ $last == DONE && -z $open ]]
}

# rc_pins_ok HOST: app.conf pins the live certificate's SHA-1 and serial.
rc_pins_ok() {
	local h=$1 d=$RENEWD_LAB_DIR/hosts/$1/root sha1 serial
	sha1=$(openssl x509 -in "$d/tls/server.crt" -noout -fingerprint -sha1 | cut -d= -f2 | tr -d : | tr A-F a-f)
	serial=$(openssl x509 -in "$d/tls/server.crt" -noout -serial | cut -d= -f2 | tr A-F a-f)
	if ! grep -q "^cert_sha1 = $sha1\$" "$d/etc/app.conf" || ! grep -q "^cert_serial = $serial\$" "$d/etc/app.conf"; then
		echo "$h: app.conf does not pin the live certificate (sha1 $sha1, serial $serial)"
		return 1
	fi
}

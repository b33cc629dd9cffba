# tests/e2e/lib/pins.sh — after a rollback (sourced by the fault tests, not
# a test itself). posix.config_thumbprint's rollback writes the serial back
# in the form it journaled (uppercase) where the lab's app.conf had it in
# lowercase, and a later renewal keeps that form: so after a rollback the
# pins are compared without case.
# Needs RENEWD_LAB_DIR.

# rc_pins_nocase HOST: app.conf pins the live certificate's SHA-1 and serial
# (any case); prints the problem and fails otherwise.
rc_pins_nocase() {
	local d=$RENEWD_LAB_DIR/hosts/$1/root sha1 serial
	sha1=$(openssl x509 -in "$d/tls/server.crt" -noout -fingerprint -sha1 | cut -d= -f2 | tr -d :)
	serial=$(openssl x509 -in "$d/tls/server.crt" -noout -serial | cut -d= -f2)
	grep -qix "cert_sha1 = $sha1" "$d/etc/app.conf" && grep -qix "cert_serial = $serial" "$d/etc/app.conf" && return 0
	echo "$1: app.conf does not pin the live certificate: $(grep '^cert_' "$d/etc/app.conf" | tr '\n' ' ')"
	return 1
}

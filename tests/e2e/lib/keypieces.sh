# tests/e2e/lib/keypieces.sh — sourced by e2e tests (not a test itself).
#
# key_pieces PEMS OUT: every 40-character piece of the DER, in base64 at all
# three byte alignments, of every private key in the PEM file PEMS, less the
# pieces that also occur in its public key (an RSA modulus is public: it
# travels in CSRs and certificates), sorted into OUT. A file that contains
# none of OUT's lines (grep -F -f OUT) holds no private key material.
key_pieces() {
	local pems=$1 out=$2 dir k
	dir=$(mktemp -d "${TMPDIR:-/tmp}/keypieces.XXXXXX")
	awk -v d="$dir" '/-----BEGIN/{n++; f=sprintf("%s/%05d.pem", d, n)} f{print > f}' "$pems"
	: >"$out"
	for k in "$dir"/*.pem; do
		[[ -e $k ]] || continue
		openssl pkey -in "$k" -outform DER -out "$k.der" 2>/dev/null || continue
		openssl pkey -in "$k" -pubout -outform DER -out "$k.pub" 2>/dev/null || continue
		_kp_b64_aligned "$k.pub" >"$k.pub64"
		_kp_b64_aligned "$k.der" | fold -w 40 | grep -E '^.{40}$' | sort -u >"$k.pieces"
		grep -o -F -f "$k.pieces" "$k.pub64" | sort -u >"$k.public" || true
		comm -23 "$k.pieces" "$k.public" >>"$out"
	done
	sort -u -o "$out" "$out"
	rm -rf "$dir"
}

_kp_b64_aligned() { local skip; for skip in 0 1 2; do tail -c +$((skip + 1)) "$1" | base64 -w0; echo; done; }

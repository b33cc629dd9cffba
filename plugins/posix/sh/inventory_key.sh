# shellcheck shell=sh disable=SC2154
# posix.inventory.key (read-only, under sudo): the key match of a due
# certificate that posix.inventory.read read without it — whether $P_key
# exists and the digest of its public key (one openssl; the private key
# never leaves the target).
rd_out keys 1
if [ -e "$P_key" ]; then
  rd_out key_exists 1
  rd_out key_pub_sha256 "$(rd_pubkey_sha256 "$P_key")"
else
  rd_out key_exists 0
fi

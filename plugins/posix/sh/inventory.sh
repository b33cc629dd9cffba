# shellcheck shell=sh disable=SC2154
# posix.inventory (read-only): what is live at $P_cert, $P_key, $P_chain.
# The certificate comes back whole; of the key only facts (exists, owner,
# mode and, when $P_keys is 1, the digest of its public key: the
# orchestrator compares it with the certificate's; the private key never
# leaves the target). Run without sudo first (posix.inventory.read): when
# the login user cannot see everything the answer is "need_sudo 1" and
# nothing else, and the plugin asks again under sudo (posix.inventory).
if [ "$P_read" = 1 ]; then
  # the backups' glob needs each directory readable, -e and stat searchable
  _n=
  for _f in "$P_cert" "$P_key" ${P_chain:+"$P_chain"}; do
    rd_dir "$_f"
    { [ -r "$_d" ] && [ -x "$_d" ]; } || _n=1
  done
  if [ -n "$_n" ] || { [ -e "$P_cert" ] && [ ! -r "$P_cert" ]; }; then
    rd_out need_sudo 1
    exit 0
  fi
fi
if [ -n "$P_chain" ]; then
  if [ -e "$P_chain" ]; then rd_out chain_exists 1; else rd_out chain_exists 0; fi
fi
rd_out backups "$(rd_backups "$P_cert"; [ "$P_key" = "$P_cert" ] || rd_backups "$P_key"; [ -z "$P_chain" ] || [ "$P_chain" = "$P_cert" ] || rd_backups "$P_chain")"
if [ -e "$P_key" ]; then
  rd_out key_exists 1
  rd_out key_stat "$(rd_stat "$P_key")"
else
  rd_out key_exists 0
fi
if [ ! -e "$P_cert" ]; then
  rd_out cert_exists 0
  exit 0
fi
[ -r "$P_cert" ] || rd_fail "certificate $P_cert: not readable"
rd_out cert_exists 1
rd_out cert_stat "$(rd_stat "$P_cert")"
if grep -q -- '-----BEGIN [A-Z ]*PRIVATE KEY-----' "$P_cert"; then
  # a combined file: only its certificates leave the target, never the key
  rd_pem_blocks "$P_cert" CERT >"$RD_P/cert_pem" || rd_fail "certificate $P_cert: cannot read it"
  rd_out_file cert_pem "$RD_P/cert_pem"
  rd_out combined 1
else
  rd_out_file cert_pem "$P_cert"
fi
if [ "$P_keys" = 1 ]; then
  rd_out keys 1
  [ ! -e "$P_key" ] || rd_out key_pub_sha256 "$(rd_pubkey_sha256 "$P_key")"
fi

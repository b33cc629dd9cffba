# shellcheck shell=sh disable=SC2154
# posix.install, second half of apply (after the backups are journaled):
# the new certificate (and chain) via temp + fsync + rename, then the staged
# key takes the old key's owner, group and mode and is renamed over it.
# Combined layout (cert and key one file): certificate, chain and key are
# assembled in $RD_P and the file is replaced once, atomically, keeping its
# owner and mode; a separate chain file is written too.
# Idempotent: re-running after a crash finishes what is left.
c=$(rd_resolve "$P_cert")
k=$(rd_resolve "$P_key")
ch=
if [ -n "$P_chain" ] && [ -s "$RD_P/ca_pem" ]; then ch=$(rd_resolve "$P_chain"); fi
if [ "$P_staged_key" = "$P_key" ] || [ ! -e "$P_staged_key" ]; then
  # The key is already in place (rotate_key false, or a finished run).
  m=$(rd_keymatch_word "$P_key" "$RD_P/new_cert")
  [ "$m" = 1 ] || rd_fail "key $P_key does not match the new certificate and the staged key $P_staged_key is not there"
  if [ "$(rd_sha256 "$c")" = "$P_new_sha256" ] && { [ -z "$ch" ] || [ "$ch" = "$c" ] || cmp -s -- "$RD_P/ca_pem" "$ch"; }; then
    rd_out already 1
    exit 0
  fi
  movekey=0
  keysrc=$k
else
  m=$(rd_keymatch_word "$P_staged_key" "$RD_P/new_cert")
  [ "$m" = 1 ] || rd_fail "staged key $P_staged_key does not match the new certificate ($m)"
  movekey=1
  keysrc=$P_staged_key
fi
if [ -n "$ch" ] && [ "$ch" != "$c" ]; then
  rd_put "$RD_P/ca_pem" "$ch" "$ch" 0644 || rd_fail "chain $P_chain: cannot write it"
fi
if rd_combined; then
  { cat -- "$RD_P/new_cert" && if [ -s "$RD_P/ca_pem" ]; then cat -- "$RD_P/ca_pem"; fi &&
    rd_pem_blocks "$keysrc" KEY; } >"$RD_P/combined" ||
    rd_fail "certificate $P_cert: cannot assemble the combined file"
  [ "$(rd_keymatch_word "$RD_P/combined" "$RD_P/combined")" = 1 ] ||
    rd_fail "certificate $P_cert: the key from $keysrc is not a PEM key of the new certificate"
  rd_put "$RD_P/combined" "$c" "$c" 0600 || rd_fail "certificate $P_cert: cannot write it"
  [ "$movekey" = 0 ] || rm -f -- "$P_staged_key"
  rd_out installed 1
  exit 0
fi
rd_put "$RD_P/new_cert" "$c" "$c" 0644 || rd_fail "certificate $P_cert: cannot write it"
if [ "$movekey" = 1 ]; then
  if [ -e "$k" ]; then
    rd_copyperm "$k" "$P_staged_key" || rd_fail "staged key $P_staged_key: cannot give it the owner and mode of $P_key"
  fi
  rd_dir "$k"
  kd=$_d
  rd_dir "$P_staged_key"
  if [ "$kd" = "$_d" ]; then
    if ! { sync -- "$P_staged_key" && mv -f -- "$P_staged_key" "$k"; }; then
      rd_fail "key $P_key: cannot rename $P_staged_key over it"
    fi
  else
    rd_put "$P_staged_key" "$k" "$P_staged_key" 0600 || rd_fail "key $P_key: cannot write it"
    rm -f -- "$P_staged_key"
  fi
  sync -- "$kd" 2>/dev/null
fi
rd_out installed 1

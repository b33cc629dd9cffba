# shellcheck shell=sh disable=SC2154
# posix.config_thumbprint probe/verify (read-only): how often the old and
# the new value occur in $P_file, in each form.
f=$(rd_resolve "$P_file")
if [ ! -f "$f" ]; then
  rd_out exists 0
  exit 0
fi
[ -r "$f" ] || rd_fail "config $P_file: not readable"
[ -s "$RD_P/old_1" ] || rd_fail "config $P_file: no value to look for"
counts=$(rd_ct count "$f") || rd_fail "config $P_file: cannot read it"
rd_out exists 1
rd_ct_out "$counts"

# shellcheck shell=sh disable=SC2154
# posix.config_thumbprint apply/rollback: replace $P_old by $P_new in $P_file
# (temp beside it with its owner and mode, fsync, rename). Guarded: the old
# value must be there; when only the new one is, it was already done.
f=$(rd_resolve "$P_file")
[ -f "$f" ] || rd_fail "config $P_file: not found"
if [ -z "$P_old" ] || [ -z "$P_new" ]; then rd_fail "config $P_file: old and new values are both required"; fi
counts=$(rd_ct count "$f") || rd_fail "config $P_file: cannot read it"
old=${counts% *}
new=${counts#* }
if [ "$old" = 0 ]; then
  [ "$new" != 0 ] || rd_fail "config $P_file: contains neither $P_old (expected) nor $P_new"
  rd_out already 1
  rd_out new_count "$new"
  exit 0
fi
t=$(rd_tmp_beside "$f") || rd_fail "config $P_file: cannot create a file beside it"
if ! { rd_ct replace "$f" >"$t" && rd_copyperm "$f" "$t" && sync -- "$t" && mv -f -- "$t" "$f"; }; then
  rm -f -- "$t"
  rd_fail "config $P_file: cannot write it"
fi
sync -- "$(dirname -- "$f")" 2>/dev/null
rd_out replaced "$old"

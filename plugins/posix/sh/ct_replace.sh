# shellcheck shell=sh disable=SC2154
# posix.config_thumbprint apply/rollback: replace each form of the old value
# by the same form of the new one in $P_file (temp beside it with its owner
# and mode, fsync, rename). Guarded: the old value must be there in some
# form; when only the new one is, it was already done.
f=$(rd_resolve "$P_file")
[ -f "$f" ] || rd_fail "config $P_file: not found"
if [ ! -s "$RD_P/old_1" ] || [ ! -s "$RD_P/new_1" ]; then rd_fail "config $P_file: old and new values are both required"; fi
counts=$(rd_ct count "$f") || rd_fail "config $P_file: cannot read it"
case $counts in
*"
all "*) total=${counts##*"
"all } ;;
*) total= ;;
esac
old=${total% *}
new=${total#* }
if [ "$old" = 0 ]; then
  [ "$new" != 0 ] || rd_fail "config $P_file: contains neither $P_old_1 (expected) nor $P_new_1, in any of the forms $P_forms"
  rd_out already 1
  rd_out new_count "$new"
  exit 0
fi
t=$(rd_tmp_beside "$f") || rd_fail "config $P_file: cannot create a file beside it"
if ! { rd_ct replace "$f" >"$t" && rd_copyperm "$f" "$t" && sync -- "$t" && mv -f -- "$t" "$f"; }; then
  rm -f -- "$t"
  rd_fail "config $P_file: cannot write it"
fi
rd_dir "$f"
sync -- "$_d" 2>/dev/null
rd_ct_out "$counts"
rd_out replaced "$old"

# shellcheck shell=sh disable=SC2154
# posix.prune apply: remove the backups beyond the newest $P_keep. Every
# name is checked again against its live file's backup pattern right before
# rm: the live files (and anything else) are refused.
removed=""
for live in "$P_cert" "$P_key" "$P_chain"; do
  [ -n "$live" ] || continue
  list=$(rd_prune_candidates "$live")
  [ -n "$list" ] || continue
  while IFS= read -r f; do
    [ "$f" != "$live" ] || rd_fail "refusing to remove the live file $f"
    rd_is_backup "$live" "$f" || rd_fail "refusing to remove $f: not a backup of $live"
    if [ ! -f "$f" ] || [ -L "$f" ]; then rd_fail "refusing to remove $f: not a regular file"; fi
    rm -f -- "$f" || rd_fail "cannot remove $f"
    removed="$removed$f
"
  done <<LIST
$list
LIST
done
rd_out removed "$removed"

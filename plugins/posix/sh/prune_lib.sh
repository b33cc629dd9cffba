# shellcheck shell=sh disable=SC2154
# posix.prune, shared part: the backups of each live file beyond the newest
# $P_keep, minus the protected ones (the backups the journal records for a
# rollback). Only names matching the backup pattern can ever be listed.
rd_protected() {
  [ -s "$RD_P/protect" ] || return 1
  while IFS= read -r _p; do
    [ "$_p" != "$1" ] || return 0
  done <"$RD_P/protect"
  return 1
}
rd_prune_candidates() { # LIVE
  [ -n "$1" ] || return 0
  _n=0
  rd_backups "$1" | while IFS= read -r _f; do
    _n=$((_n + 1))
    [ "$_n" -gt "$P_keep" ] || continue
    rd_is_backup "$1" "$_f" || continue
    rd_protected "$_f" || printf '%s\n' "$_f"
  done
}
case $P_keep in '' | *[!0-9]* | 0) rd_fail "keep must be a whole number of at least 1, not '$P_keep'" ;; esac

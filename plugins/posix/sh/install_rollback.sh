# shellcheck shell=sh disable=SC2154
# posix.install rollback: put the journaled backups back (copy to a temp
# beside the live file, then rename), so the old files return byte for byte
# with their owner and mode. Only names of the backup pattern are used.
# Combined layout: the key's (or chain's) backup is the certificate's, put
# back once with it.
restore() { # LIVE BACKUP NAME
  [ -n "$2" ] || return 0
  if [ "$3" != cert ] && [ "$2" = "$P_backup_cert" ]; then return 0; fi
  rd_is_backup "$1" "$2" || rd_fail "refusing to restore $1 from $2: not one of its backups"
  [ -f "$2" ] || rd_fail "backup $2 of $1 is missing"
  l=$(rd_resolve "$1")
  if [ -e "$l" ] && cmp -s -- "$2" "$l"; then return 0; fi
  rd_put "$2" "$l" "$2" 0600 || rd_fail "cannot restore $1 from $2"
  rd_out "restored_$3" "$2"
}
restore "$P_cert" "$P_backup_cert" cert
restore "$P_key" "$P_backup_key" key
[ -z "$P_chain" ] || restore "$P_chain" "$P_backup_chain" chain
rd_out ok 1

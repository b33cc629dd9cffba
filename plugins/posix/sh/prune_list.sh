# shellcheck shell=sh disable=SC2154
# posix.prune probe/verify (read-only): what would be removed, what stays.
rd_out remove "$(rd_prune_candidates "$P_cert"; rd_prune_candidates "$P_key"; rd_prune_candidates "$P_chain")"
rd_out backups "$(rd_backups "$P_cert"; rd_backups "$P_key"; [ -z "$P_chain" ] || rd_backups "$P_chain")"

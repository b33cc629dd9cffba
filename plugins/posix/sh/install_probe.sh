# shellcheck shell=sh disable=SC2154
# posix.install probe/verify (read-only): the live certificate's SHA-256,
# whether the live key matches it, whether the staged key is still waiting.
# One openssl process for the certificate's facts, one for the key's.
c=$(rd_resolve "$P_cert")
cs=2 _fp=''
if [ -e "$c" ]; then rd_certfacts "$c"; cs=$?; fi
rd_out live_sha256 "$_fp"
if [ -e "$c" ] && [ -e "$P_key" ]; then
  if [ "$cs" = 0 ]; then rd_keypub_match "$P_key"; cs=$?; fi
  rd_out key_match "$(rd_match_word "$cs")"
fi
if [ -n "$P_staged_key" ] && [ -e "$P_staged_key" ]; then rd_out staged_exists 1; else rd_out staged_exists 0; fi

# shellcheck shell=sh disable=SC2154
# posix.install probe/verify (read-only): the live certificate's SHA-256,
# whether the live key matches it, whether the staged key is still waiting.
c=$(rd_resolve "$P_cert")
if [ -e "$c" ]; then rd_out live_sha256 "$(rd_sha256 "$c")"; else rd_out live_sha256 ""; fi
if [ -e "$c" ] && [ -e "$P_key" ]; then rd_out key_match "$(rd_keymatch_word "$P_key" "$c")"; fi
if [ -n "$P_staged_key" ] && [ -e "$P_staged_key" ]; then rd_out staged_exists 1; else rd_out staged_exists 0; fi

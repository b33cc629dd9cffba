# shellcheck shell=sh disable=SC2154
# posix.doctor (read-only; runs as the login user, never under sudo): what
# `renewd doctor` must know before a renewal. Who we are; with the runbook's
# ssh.sudo, whether `sudo -n` lets us run /bin/sh as root (every other
# script runs as `sudo -n /bin/sh -c SCRIPT`; -l only asks, it runs
# nothing); openssl (the new key and its signatures are made here); and,
# without sudo, whether the certificate's directories are writable (install
# writes a temp file beside each live one).
rd_out user "$(id -un)"
if [ "$P_sudo" = 1 ]; then
  if _o=$(sudo -n -l /bin/sh -c true renewd-doctor 2>&1 </dev/null); then
    rd_out sudo ok
  else
    rd_out sudo no
    rd_out sudo_err "$(printf '%s' "$_o" | head -n 2 | tr '\n' ' ')"
  fi
fi
rd_out openssl "$(openssl version 2>/dev/null | head -n 1)"
for _p in "$P_cert" "$P_key" "$P_chain"; do
  [ -n "$_p" ] || continue
  _d=$(dirname -- "$_p")
  if [ ! -d "$_d" ]; then
    printf '%s\n' "$_d: no such directory"
  elif [ "$P_sudo" != 1 ] && [ ! -w "$_d" ]; then
    printf '%s\n' "$_d: not writable by $(id -un)"
  fi
done | sort -u >"$RD_P/dirs"
rd_out_file dirs "$RD_P/dirs"

# shellcheck shell=sh disable=SC2154
# posix.install, first half of apply: copy the live certificate, key and
# chain to <path>.renewd-<UTC timestamp> (owner, mode and times kept), each
# written under a temp name and renamed, so a crash never leaves a partial
# backup. The orchestrator journals these paths before anything is replaced.
# A path that is the same file as the certificate (combined layout: key or
# chain in the certificate file) gets the certificate's backup, not a second.
ts=$(rd_ts)
backup() { # NAME LIVE
  [ -n "$2" ] && [ -e "$2" ] || return 0
  b="$2.renewd-$ts"
  n=1
  while [ -e "$b" ]; do
    n=$((n + 1))
    b="$2.renewd-$ts-$n"
  done
  t=$(rd_tmp_beside "$b") || rd_fail "backup of $2: cannot create a file beside it"
  if ! { cp -p -- "$2" "$t" && sync -- "$t" && mv -f -- "$t" "$b"; }; then
    rm -f -- "$t"
    rd_fail "backup of $2 to $b failed"
  fi
  rd_out "$1" "$b"
  cb=$b
}
cb=
backup cert "$P_cert"
same_as_cert() { [ -n "$1" ] && [ -n "$cb" ] && [ "$(rd_resolve "$1")" = "$(rd_resolve "$P_cert")" ]; }
if same_as_cert "$P_key"; then rd_out key "$cb"; else backup key "$P_key"; fi
if same_as_cert "$P_chain"; then rd_out chain "$cb"; else backup chain "$P_chain"; fi
rd_dir "$P_cert"
sync -- "$_d" 2>/dev/null
rd_out ts "$ts"

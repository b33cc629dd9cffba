# shellcheck shell=sh disable=SC2154
# posix.exec: run the user's script ($RD_P/script, travelled as data) with
# the phase as $1 and the job's facts in RENEWD_* (certbot/uacme hook
# style); report its exit status, stdout and stderr.
RENEWD_HOST=$P_host
RENEWD_PHASE=$P_phase
RENEWD_CERT_PATH=$P_cert_path
RENEWD_OLD_SHA1=$P_old_sha1
RENEWD_NEW_SHA1=$P_new_sha1
RENEWD_OLD_SERIAL=$P_old_serial
RENEWD_NEW_SERIAL=$P_new_serial
RENEWD_WHATIF=$P_whatif
export RENEWD_HOST RENEWD_PHASE RENEWD_CERT_PATH RENEWD_OLD_SHA1 RENEWD_NEW_SHA1 \
  RENEWD_OLD_SERIAL RENEWD_NEW_SERIAL RENEWD_WHATIF
set --
if [ -n "$P_timeout" ] && command -v timeout >/dev/null 2>&1; then
  set -- timeout -k 5 "$P_timeout"
fi
"$@" sh "$RD_P/script" "$P_phase" </dev/null >"$RD_P/.stdout" 2>"$RD_P/.stderr"
rd_out rc "$?"
# Only the tail (16 KiB) of each, as base64 text: the output may be any bytes.
rd_out stdout "$(rd_tail_b64 "$RD_P/.stdout")"
rd_out stderr "$(rd_tail_b64 "$RD_P/.stderr")"

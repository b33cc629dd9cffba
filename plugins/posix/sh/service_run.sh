# shellcheck shell=sh disable=SC2154
# posix.service apply and check: run the operator's configured command (as
# data: sh -c "$P_command") or systemctl $P_action $P_unit, optionally under
# timeout(1), and report its exit status, stdout and stderr.
if [ -n "$P_unit" ]; then
  set -- systemctl "$P_action" -- "$P_unit"
else
  set -- sh -c "$P_command"
fi
if [ -n "$P_timeout" ] && command -v timeout >/dev/null 2>&1; then
  set -- timeout -k 5 "$P_timeout" "$@"
fi
"$@" </dev/null >"$RD_P/.stdout" 2>"$RD_P/.stderr"
rd_out rc "$?"
# Only the tail (16 KiB) of each, as base64 text: the output may be any bytes.
rd_out stdout "$(rd_tail_b64 "$RD_P/.stdout")"
rd_out stderr "$(rd_tail_b64 "$RD_P/.stderr")"

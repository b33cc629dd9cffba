# shellcheck shell=sh disable=SC2154
# posix.service probe (read-only): for a systemd unit, whether it is active;
# for a command, whether its program exists.
if [ -n "$P_unit" ]; then
  command -v systemctl >/dev/null 2>&1 || rd_fail "systemctl not found (unit $P_unit)"
  rd_out state "$(systemctl is-active -- "$P_unit" 2>/dev/null)"
else
  set -f
  # shellcheck disable=SC2086
  set -- $P_command
  set +f
  if command -v -- "$1" >/dev/null 2>&1; then rd_out found 1; else rd_out found 0; fi
fi

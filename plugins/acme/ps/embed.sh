#!/bin/sh
# embed.sh — the acme plugin's PowerShell sources for Windows targets
# (plugins/acme/ps/*.ps1) as C string macros ACME_PS_<NAME> in OUTPUT
# (acme_ps.h), through plugins/embed.sh. Each runs after the windows
# plugin's lib.ps1 (and adcs_lib.ps1 where it says so): acme_win.c
# concatenates WIN_PS_LIB (windows_ps.h) in front, it is not copied here.
#   sh plugins/acme/ps/embed.sh OUTPUT
set -eu
dir=$(cd "$(dirname "$0")" && pwd)
[ $# -eq 1 ] || { echo "usage: sh $0 OUTPUT" >&2; exit 2; }
exec sh "$dir/../../embed.sh" "$dir" ACME_PS_ "$1"

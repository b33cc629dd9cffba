#!/bin/sh
# embed.sh — the windows plugin's PowerShell sources (plugins/windows/ps/
# *.ps1: edit, and parse-check, those) as C string macros WIN_PS_<NAME> in
# OUTPUT (windows_ps.h), through plugins/embed.sh. The build runs it (CMake
# writes BUILD/generated/windows/windows_ps.h whenever a script changes);
# the header is never committed.
#   sh plugins/windows/ps/embed.sh OUTPUT
set -eu
dir=$(cd "$(dirname "$0")" && pwd)
[ $# -eq 1 ] || { echo "usage: sh $0 OUTPUT" >&2; exit 2; }
exec sh "$dir/../../embed.sh" "$dir" WIN_PS_ "$1"

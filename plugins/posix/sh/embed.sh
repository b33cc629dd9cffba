#!/bin/sh
# embed.sh — the posix plugin's shell scripts (plugins/posix/sh/*.sh, the
# sources: edit and shellcheck those) as C string macros POSIX_SH_<NAME> in
# OUTPUT (posix_sh.h), through plugins/embed.sh. The build runs it (CMake
# writes BUILD/generated/posix/posix_sh.h whenever a script changes); the
# header is never committed.
#   sh plugins/posix/sh/embed.sh OUTPUT
set -eu
dir=$(cd "$(dirname "$0")" && pwd)
[ $# -eq 1 ] || { echo "usage: sh $0 OUTPUT" >&2; exit 2; }
exec sh "$dir/../../embed.sh" "$dir" POSIX_SH_ "$1"

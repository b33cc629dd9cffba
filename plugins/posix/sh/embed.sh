#!/bin/sh
# embed.sh — turns the posix plugin's shell scripts (plugins/posix/sh/*.sh,
# the sources: edit and shellcheck those) into C string macros in
# posix_sh.h: POSIX_SH_<NAME> for <name>.sh. Comment-only and blank lines
# are left out of what travels to the targets. The build runs it (CMake
# writes BUILD/generated/posix/posix_sh.h whenever a script changes); the
# header is never committed.
#   sh plugins/posix/sh/embed.sh OUTPUT
set -eu
dir=$(cd "$(dirname "$0")" && pwd)
[ $# -eq 1 ] || { echo "usage: sh $0 OUTPUT" >&2; exit 2; }
out=$1
{
  printf '/* posix_sh.h — GENERATED at build time by plugins/posix/sh/embed.sh from\n'
  printf ' * the .sh files in plugins/posix/sh. Do not edit: edit those. */\n'
  printf '#ifndef RENEWD_POSIX_SH_H\n#define RENEWD_POSIX_SH_H\n'
  for f in $(cd "$dir" && LC_ALL=C ls -- *.sh); do
    [ "$f" != embed.sh ] || continue
    name=$(printf '%s' "${f%.sh}" | LC_ALL=C tr '[:lower:]' '[:upper:]')
    printf '\n#define POSIX_SH_%s \\\n' "$name"
    LC_ALL=C sed -e '/^[[:space:]]*#/d' -e '/^[[:space:]]*$/d' \
      -e 's/\\/\\\\/g' -e 's/"/\\"/g' -e 's/?/\\?/g' \
      -e 's/^/  "/' -e 's/$/\\n" \\/' "$dir/$f"
    printf '  ""\n'
  done
  printf '\n#endif\n'
} >"$out.tmp"
mv -f "$out.tmp" "$out"

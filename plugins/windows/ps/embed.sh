#!/bin/sh
# embed.sh — turns the windows plugin's PowerShell sources (plugins/windows/
# ps/*.ps1: edit, and parse-check, those) into C string macros in
# windows_ps.h: WIN_PS_<NAME> for <name>.ps1. Comment-only and blank lines
# are left out of what travels to the targets; the code (not the comments)
# must be ASCII. The build runs it (CMake writes BUILD/generated/windows/
# windows_ps.h whenever a script changes); the header is never committed.
#   sh plugins/windows/ps/embed.sh OUTPUT
set -eu
dir=$(cd "$(dirname "$0")" && pwd)
[ $# -eq 1 ] || { echo "usage: sh $0 OUTPUT" >&2; exit 2; }
out=$1
for f in "$dir"/*.ps1; do
  if LC_ALL=C grep -v '^[[:space:]]*#' "$f" | LC_ALL=C grep -q '[^[:print:][:space:]]'; then
    echo "embed.sh: $f has non-ASCII bytes outside comments" >&2
    exit 1
  fi
done
{
  printf '/* windows_ps.h — GENERATED at build time by plugins/windows/ps/embed.sh\n'
  printf ' * from the .ps1 files in plugins/windows/ps. Do not edit: edit those. */\n'
  printf '#ifndef RENEWD_WINDOWS_PS_H\n#define RENEWD_WINDOWS_PS_H\n'
  for f in $(cd "$dir" && LC_ALL=C ls -- *.ps1); do
    name=$(printf '%s' "${f%.ps1}" | LC_ALL=C tr '[:lower:]' '[:upper:]')
    printf '\n#define WIN_PS_%s \\\n' "$name"
    LC_ALL=C sed -e 's/\r$//' -e '/^[[:space:]]*#/d' -e '/^[[:space:]]*$/d' \
      -e 's/\\/\\\\/g' -e 's/"/\\"/g' -e 's/?/\\?/g' \
      -e 's/^/  "/' -e 's/$/\\n" \\/' "$dir/$f"
    printf '  ""\n'
  done
  printf '\n#endif\n'
} >"$out.tmp"
mv -f "$out.tmp" "$out"

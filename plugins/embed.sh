#!/bin/sh
# embed.sh — turns a plugin's script sources (every file in DIR but
# embed.sh: plugins/posix/sh/*.sh, plugins/windows/ps/*.ps1) into C string
# macros in OUTPUT: PREFIX<NAME> for <name>.<ext>. Comment-only and blank
# lines are left out of what travels to the targets; the code (not the
# comments) must be ASCII. Each plugin's DIR/embed.sh calls this with its
# prefix; the build runs that (CMake, into BUILD/generated/<plugin>/) when a
# script changes, and the header is never committed.
#   sh plugins/embed.sh DIR PREFIX OUTPUT
set -eu
[ $# -eq 3 ] || { echo "usage: sh $0 DIR PREFIX OUTPUT" >&2; exit 2; }
dir=$(cd "$1" && pwd)
prefix=$2
out=$3
where=plugins/$(basename "$(dirname "$dir")")/$(basename "$dir")
guard=RENEWD_${prefix}H
files=$(cd "$dir" && LC_ALL=C ls -- * | grep -vx 'embed.sh')
for f in $files; do
  if LC_ALL=C grep -v '^[[:space:]]*#' "$dir/$f" | LC_ALL=C grep -q '[^[:print:][:space:]]'; then
    echo "embed.sh: $dir/$f has non-ASCII bytes outside comments" >&2
    exit 1
  fi
done
{
  printf '/* %s* — GENERATED at build time by plugins/embed.sh from the scripts\n' "$prefix"
  printf ' * in %s. Do not edit: edit those. */\n' "$where"
  printf '#ifndef %s\n#define %s\n' "$guard" "$guard"
  for f in $files; do
    name=$(printf '%s' "${f%.*}" | LC_ALL=C tr '[:lower:]' '[:upper:]')
    printf '\n#define %s%s \\\n' "$prefix" "$name"
    LC_ALL=C sed -e 's/\r$//' -e '/^[[:space:]]*#/d' -e '/^[[:space:]]*$/d' \
      -e 's/\\/\\\\/g' -e 's/"/\\"/g' -e 's/?/\\?/g' \
      -e 's/^/  "/' -e 's/$/\\n" \\/' "$dir/$f"
    printf '  ""\n'
  done
  printf '\n#endif\n'
} >"$out.tmp"
mv -f "$out.tmp" "$out"

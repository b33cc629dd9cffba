#!/usr/bin/env bash
# deb.sh — the Debian package: build it with CPack (Release, no tests) in a
# temporary build directory, check its control data and contents, install it
# with dpkg, use what it installed (the binary, its plugins found from the
# compiled-in default, the man pages, bash completion, an example runbook,
# the systemd unit, the `renewd` user), then purge it and check it left
# nothing behind. Root only (dpkg -i); no lab.
set -euo pipefail
src=${RENEWD_SOURCE:-$(cd "$(dirname "$0")/../.." && pwd)}
if [ "$(id -u)" != 0 ]; then
  echo "deb.sh: needs root (dpkg -i); skipped" >&2
  exit 77
fi
# man -w needs man-db (contrib/deps.sh installs it)
if ! command -v man >/dev/null && [ -f "$src/contrib/deps.sh" ]; then
  bash "$src/contrib/deps.sh" >&2 || true
fi
for t in dpkg dpkg-deb cmake cpack man getent runuser; do
  if ! command -v "$t" >/dev/null; then
    echo "deb.sh: $t is missing; run contrib/deps.sh" >&2
    exit 77
  fi
done
if dpkg-query -W -f='${Status}' renewd 2>/dev/null | grep -q 'installed'; then
  echo "deb.sh: a renewd package is already installed; not touching it" >&2
  exit 77
fi
fail() { echo "deb.sh: FAIL: $*" >&2; exit 1; }
# what is checked is the installed renewd with its defaults (ctest sets these
# to the build tree)
unset RENEWD_PLUGINS RENEWD_JOURNAL

tmp=$(mktemp -d /tmp/renewd-deb.XXXXXX)
installed=0
cleanup() {
  if [ "$installed" = 1 ]; then dpkg --purge renewd >/dev/null 2>&1 || true; fi
  rm -rf "$tmp"
}
trap cleanup EXIT
# (/usr only: the lab's files in /var/lib and /etc come and go meanwhile)
usr_renewd() { find /usr -path '*renewd*' 2>/dev/null | sort; }
before=$(usr_renewd)

# 1. build the package
t0=$(date +%s)
cmake -S "$src" -B "$tmp/build" -DCMAKE_BUILD_TYPE=Release -DRENEWD_TESTS=OFF \
      -DRENEWD_SANITIZE=OFF -DCMAKE_INSTALL_PREFIX=/usr >"$tmp/log" 2>&1 \
  || { cat "$tmp/log" >&2; fail "cmake configure"; }
cmake --build "$tmp/build" -j2 >>"$tmp/log" 2>&1 || { tail -40 "$tmp/log" >&2; fail "build"; }
(cd "$tmp/build" && cpack -G DEB >>"$tmp/log" 2>&1) || { tail -40 "$tmp/log" >&2; fail "cpack"; }
mv "$tmp"/build/renewd_*.deb "$tmp/"
deb=$(ls "$tmp"/renewd_*.deb)
echo "deb.sh: built $(basename "$deb") in $(($(date +%s) - t0)) s"

# 2. control data and contents
[ "$(dpkg-deb -f "$deb" Package)" = renewd ] || fail "Package is not renewd"
depends=$(dpkg-deb -f "$deb" Depends)
for d in libssl3 libuv1 libcurl4 libjansson4 libssh2-1 libsqlite3-0 adduser; do
  grep -Eq "(^|, )$d( |,|$)" <<<"$depends" || fail "Depends '$depends' lacks $d"
done
dpkg-deb -c "$deb" | awk '{print $NF}' | sed 's|^\./|/|' >"$tmp/contents"
for f in /usr/bin/renewd /usr/lib/systemd/system/renewd.service \
         /usr/share/man/man8/renewd.8.gz /usr/share/man/man5/renewd-runbook.5.gz \
         /usr/share/bash-completion/completions/renewd \
         /usr/share/doc/renewd/examples/schema.json \
         /usr/share/doc/renewd/examples/lab-posix-scep.json; do
  grep -qx "$f" "$tmp/contents" || fail "the package lacks $f"
done
for p in "$src"/plugins/*/; do
  name=$(basename "$p")
  [ "$name" = common ] && continue
  grep -qx "/usr/lib/renewd/plugins/renewd-$name.so" "$tmp/contents" \
    || fail "the package lacks plugin renewd-$name.so"
done
if grep -v -e '^/usr/' -e '^/$' -e '^/usr$' "$tmp/contents"; then
  fail "the package installs outside /usr (above)"
fi
mkdir "$tmp/ctl" && dpkg-deb -e "$deb" "$tmp/ctl"
for s in postinst prerm postrm; do
  [ -x "$tmp/ctl/$s" ] || fail "the package has no executable $s"
done

# 3. install: the build tree goes first, so that nothing can come from it
rm -rf "$tmp/build"
dpkg --path-include='/usr/share/man/man[58]/renewd*' \
     --path-include='/usr/share/doc/renewd/*' -i "$deb" >"$tmp/log" 2>&1 \
  || { cat "$tmp/log" >&2; fail "dpkg -i"; }
installed=1
version=$(sed -n 's/^project(renewd VERSION \([0-9.]*\).*/\1/p' "$src/CMakeLists.txt")
[ "$(/usr/bin/renewd --version)" = "renewd $version" ] \
  || fail "renewd --version: '$(/usr/bin/renewd --version)', expected 'renewd $version'"
[ "$(man -w renewd)" = /usr/share/man/man8/renewd.8.gz ] || fail "man -w renewd: '$(man -w renewd)'"
[ "$(man -w 5 renewd-runbook)" = /usr/share/man/man5/renewd-runbook.5.gz ] \
  || fail "man -w 5 renewd-runbook: '$(man -w 5 renewd-runbook)'"
MANWIDTH=80 man 8 renewd 2>/dev/null | grep -q 'certificate renewal orchestrator' \
  || fail "man renewd does not render"

# the `renewd` system user and its state directory
getent passwd renewd >/dev/null || fail "postinst made no renewd user"
uid=$(id -u renewd)
((uid < 1000)) || fail "renewd is not a system user (uid $uid)"
[ "$(stat -c '%U %a' /var/lib/renewd)" = "renewd 700" ] \
  || fail "/var/lib/renewd: $(stat -c '%U %a' /var/lib/renewd), expected renewd 700"

# validate an example against the installed plugins (found by default: no
# $RENEWD_PLUGINS, no build tree); the Windows runbook needs the windows
# plugin, and a missing plugin directory would be a warning on stderr
ex=/usr/share/doc/renewd/examples/windows-iis-site.json
(cd / && /usr/bin/renewd validate "$ex" >"$tmp/out" 2>"$tmp/err") \
  || { cat "$tmp/out" "$tmp/err" >&2; fail "renewd validate $ex"; }
[ ! -s "$tmp/err" ] || { cat "$tmp/err" >&2; fail "renewd validate $ex: stderr above"; }
(cd / && /usr/bin/renewd validate --list-steps) >"$tmp/out" 2>&1
for k in posix.key_acl tls.verify windows.; do
  grep -q "$k" "$tmp/out" || { cat "$tmp/out" >&2; fail "validate --list-steps lacks $k"; }
done
# the service's user can read the plugins and the examples
runuser -u renewd -- /usr/bin/renewd validate "$ex" >"$tmp/out" 2>&1 \
  || { cat "$tmp/out" >&2; fail "renewd validate $ex as the renewd user"; }
# and one with an unknown step kind is refused, so the check above can fail
sed 's/"windows\.iis_binding"/"windows.no_such_kind"/' "$ex" >"$tmp/bad.json"
cmp -s "$ex" "$tmp/bad.json" && fail "no windows.iis_binding step in $ex to break"
if (cd / && /usr/bin/renewd validate "$tmp/bad.json" >/dev/null 2>&1); then
  fail "renewd validate accepted an unknown step kind"
fi

# bash completion
comp=$(bash -c 'source /usr/share/bash-completion/completions/renewd
  COMP_WORDS=(renewd vali); COMP_CWORD=1; _renewd; echo "${COMPREPLY[*]}"
  COMP_WORDS=(renewd validate --li); COMP_CWORD=2; _renewd; echo "${COMPREPLY[*]}"')
[ "$comp" = $'validate\n--list-steps' ] || fail "bash completion: '$comp'"

# the unit: hardened, and systemd accepts it
unit=/usr/lib/systemd/system/renewd.service
for l in User=renewd ProtectSystem=strict StateDirectory=renewd NoNewPrivileges=yes \
         ReadWritePaths=/var/lib/renewd; do
  grep -qx "$l" "$unit" || fail "$unit lacks $l"
done
[ "$(grep -c '^ReadWritePaths=' "$unit")" = 1 ] || fail "$unit: more than one ReadWritePaths"
grep -q "^ExecStart=.*exec /usr/bin/renewd serve " "$unit" || fail "$unit: ExecStart is not /usr/bin/renewd"
if command -v systemd-analyze >/dev/null; then
  # (the unit's own file only: a container's other units may not verify)
  systemd-analyze verify "$unit" >"$tmp/log" 2>&1 || { cat "$tmp/log" >&2; fail "systemd-analyze verify"; }
  if grep -i 'renewd.service' "$tmp/log"; then fail "systemd-analyze verify warns (above)"; fi
  # exposure at most 2.0 of 10 (the unprivileged, sandboxed unit has 1.5;
  # contrib/systemd/renewd.service, as root with few restrictions, 8.4)
  if systemd-analyze security --help 2>/dev/null | grep -q -- --offline; then
    systemd-analyze security --offline=yes --threshold=20 "$unit" >"$tmp/log" 2>&1 \
      || { tail -3 "$tmp/log" >&2; fail "$unit: exposure above 2.0"; }
  fi
else
  echo "deb.sh: systemd-analyze is not installed; the unit was not verified" >&2
fi

# 4. purge: nothing left
dpkg --purge renewd >"$tmp/log" 2>&1 || { cat "$tmp/log" >&2; fail "dpkg --purge"; }
installed=0
after=$(usr_renewd)
[ "$after" = "$before" ] || fail "/usr after purge: $(diff <(echo "$before") <(echo "$after") | tr '\n' ' ')"
while read -r f; do
  [ "$f" = / ] || [ "$f" = /usr ] || [ -d "$f" ] || [ ! -e "$f" ] || fail "purge left $f"
done <"$tmp/contents"
for d in /var/lib/renewd /etc/renewd; do
  [ ! -e "$d" ] || fail "purge left $d"
done
! getent passwd renewd >/dev/null || fail "purge left the renewd user"
! getent group renewd >/dev/null || fail "purge left the renewd group"
echo "deb.sh: ok ($(($(date +%s) - t0)) s)"

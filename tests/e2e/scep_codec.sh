#!/usr/bin/env bash
# scep_codec.sh — the SCEP codec (plugins/scep/scep_msg.c) against a real
# scepserver (Debian package `scep`, micromdm 2.1.0).
#
# The server listens on every interface (it has no bind-address flag), so it
# runs in a private network namespace with only `lo` up, and so does the
# driver, tests/unit/test_scep_live.c: GetCACaps/GetCACert, a PKCSReq with the
# challenge, a RenewalReq signed by the first certificate's key for a new
# key, a PKIOperation by GET, and a wrong challenge (FAILURE badRequest). All
# private-key work is done by the `openssl` commands a target would run.
#
# Needs root (ip netns): without it, or without a scepserver, it exits 77
# (a skip). test_scep_live runs this script itself when ctest starts it
# without SCEP_TEST_URL. Environment: RENEWD_BIN (set by ctest) locates the
# build directory; SCEP_BUILD_DIR overrides it.
set -euo pipefail

name=scep_codec
root=${RENEWD_SOURCE:-$(cd "$(dirname "$0")/../.." && pwd)}
build=${SCEP_BUILD_DIR:-$(dirname "${RENEWD_BIN:-$root/build/renewd}")}
driver=$build/test_scep_live
ns=renewd-scep-test-$$
port=8080
passed=0
failed=0

say() { printf '%s: %s\n' "$name" "$*"; }
ok() { passed=$((passed + 1)); say "ok: $*"; }
bad() { failed=$((failed + 1)); say "FAIL: $*"; }

if [ "$(id -u)" != 0 ]; then
  say "SKIP: needs root for ip netns"
  exit 77
fi
if [ ! -x "$driver" ]; then
  say "$driver: not built (build the tree first, or set SCEP_BUILD_DIR)"
  exit 1
fi
if ! command -v scepserver >/dev/null 2>&1; then
  say "installing the Debian package scep"
  if ! apt-get install -y -q scep >/dev/null 2>&1; then
    apt-get update -q >/dev/null 2>&1 || true
    apt-get install -y -q scep >/dev/null 2>&1 || true
  fi
  if ! command -v scepserver >/dev/null 2>&1; then
    say "SKIP: no scepserver, and the Debian package scep could not be installed"
    exit 77
  fi
fi

work=$(mktemp -d /tmp/renewd-scep-codec.XXXXXX)
server_pid=
cleanup() {
  if [ -n "$server_pid" ]; then
    kill "$server_pid" 2>/dev/null || true
    wait "$server_pid" 2>/dev/null || true
  fi
  ip netns del "$ns" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

ip netns add "$ns"
ip -n "$ns" link set lo up

scepserver ca -init -depot "$work/depot" -keySize 2048 >"$work/ca-init.log" 2>&1
fp="sha256:$(openssl x509 -in "$work/depot/ca.pem" -noout -fingerprint -sha256 | cut -d= -f2)"
challenge=$(openssl rand -hex 12)

# The challenge travels in the environment, never on a command line.
SCEP_CHALLENGE_PASSWORD=$challenge \
  ip netns exec "$ns" scepserver -depot "$work/depot" -port "$port" \
  -allowrenew 0 -crtvalid 30 >"$work/server.log" 2>&1 &
server_pid=$!

up=0
for _ in $(seq 50); do
  if ip netns exec "$ns" curl -fsS -o /dev/null \
    "http://127.0.0.1:$port/scep?operation=GetCACaps" 2>/dev/null; then
    up=1
    break
  fi
  if ! kill -0 "$server_pid" 2>/dev/null; then
    break
  fi
  sleep 0.2
done
if [ "$up" = 1 ]; then
  ok "scepserver answers in namespace $ns"
else
  bad "scepserver did not come up:"
  sed 's/^/  /' "$work/server.log" >&2
  say "$passed passed, $failed failed"
  exit 1
fi

# The driver's Check tests: it prints one result line per test.
set +e
ip netns exec "$ns" env CK_DEFAULT_TIMEOUT=120 \
  SCEP_TEST_URL="http://127.0.0.1:$port/scep" SCEP_TEST_CHALLENGE="$challenge" \
  SCEP_TEST_CA_FP="$fp" "$driver" >"$work/driver.log" 2>&1
drc=$?
set -e
cat "$work/driver.log"
while IFS= read -r line; do
  test_name=$(printf '%s' "$line" | cut -d: -f5)
  case "$line" in
  *:P:*) ok "$test_name" ;;
  *:F:* | *:E:*) bad "$test_name" ;;
  esac
done < <(grep -E ':[PFE]:live:' "$work/driver.log" || true)
if [ "$drc" != 0 ] && [ "$failed" = 0 ]; then
  bad "test_scep_live exited with status $drc"
fi
if [ "$((passed + failed))" -lt 2 ]; then
  bad "test_scep_live reported no tests"
fi

# What the CA recorded: the enrolment, its renewal (which revokes the first
# certificate of the same CN in scepserver's index) and the GET enrolment;
# the wrong challenge issued nothing.
issued=$(wc -l <"$work/depot/index.txt" 2>/dev/null || echo 0)
if [ "$issued" = 3 ]; then
  ok "the CA's index lists the 3 certificates issued"
else
  bad "the CA's index lists $issued certificates, expected 3"
  cat "$work/depot/index.txt" >&2 2>/dev/null || true
fi

if [ "$failed" != 0 ]; then
  say "server log:"
  sed 's/^/  /' "$work/server.log" >&2
fi
say "$passed passed, $failed failed"
[ "$failed" = 0 ]

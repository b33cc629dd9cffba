#!/usr/bin/env bash
# tests/e2e/shipped_runbooks.sh — every runbook renewd ships validates against
# the plugins it ships (step kinds and their parameters included), and a
# runbook with a step kind no plugin provides is refused with exit 2.
# Prints "shipped_runbooks: N passed, M failed".
set -euo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
RENEWD=${RENEWD_BIN:-$ROOT/build/renewd}
export RENEWD_PLUGINS=${RENEWD_PLUGINS:-$(dirname "$RENEWD")/plugins}
pass=0 fail=0
check() { local d=$1; shift; if "$@"; then pass=$((pass + 1)); echo "ok   - $d"; else fail=$((fail + 1)); echo "FAIL - $d"; fi; }
WORK=$(mktemp -d /tmp/shipped.XXXXXX)
trap 'rm -rf "$WORK"' EXIT

# The lab runbook names the lab's inventory (/var/lib/renewd-lab), which
# exists only while a lab is up: check it against a fixture inventory, the
# rest as shipped. A missing inventory is rightly an error.
mkdir -p "$WORK/runbooks"
for rb in "$ROOT"/runbooks/*.json; do
	sed "s|/var/lib/renewd-lab/inventory.json|$ROOT/tests/fixtures/runbooks/inv/inventory.json|" \
		"$rb" >"$WORK/runbooks/$(basename "$rb")"
done
for rb in "$WORK"/runbooks/*.json; do
	[[ $(basename "$rb") == schema.json ]] && continue
	check "renewd validate $(basename "$rb")" "$RENEWD" validate --plugins "$RENEWD_PLUGINS" "$rb"
done
check "renewd validate runbooks/*.json (all at once)" "$RENEWD" validate --plugins "$RENEWD_PLUGINS" "$WORK"/runbooks/*.json
rc=0
"$RENEWD" validate --plugins "$RENEWD_PLUGINS" "$ROOT/runbooks/lab-posix-scep.json" >"$WORK/nolab" 2>&1 || rc=$?
if [[ ! -e /var/lib/renewd-lab/inventory.json ]]; then
	check "without a lab, the lab runbook's missing inventory is named (exit 2)" \
		bash -c "[ $rc = 2 ] && grep -q \"cannot read inventory '/var/lib/renewd-lab/inventory.json'\" '$WORK/nolab'"
fi
sed 's/"posix.key_acl"/"posix.key_acls"/' "$ROOT/runbooks/lab-posix-scep.json" >"$WORK/typo.json"
rc=0
"$RENEWD" validate --plugins "$RENEWD_PLUGINS" "$WORK/typo.json" >"$WORK/out" 2>&1 || rc=$?
check "an unknown step kind exits 2" test "$rc" = 2
check "and names the kind with a suggestion" grep -q "posix.key_acls.*did you mean 'posix.key_acl'" "$WORK/out"
printf 'shipped_runbooks: %d passed, %d failed\n' "$pass" "$fail"
((fail == 0))

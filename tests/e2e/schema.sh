#!/usr/bin/env bash
# schema.sh — runbooks/schema.json (JSON Schema 2020-12) against the shipped
# runbooks and the fixtures: every shipped runbook and every good fixture must
# pass; the bad fixtures whose mistake a schema can express must fail. (The
# rest — syntax errors, inventory contents, step parameters, schedule
# consistency, platform mismatches — only `renewd validate` can catch; the
# unit test test_runbook covers those.)
#
# Needs node and the packages of tests/tools (ajv, ajv-formats):
#   contrib/tests-deps.sh   (or: npm install --prefix tests/tools)
set -euo pipefail
src=${RENEWD_SOURCE:-$(cd "$(dirname "$0")/../.." && pwd)}
cd "$src"
tools=tests/tools
if ! command -v node >/dev/null; then
  echo "schema.sh: node is not installed; run contrib/deps.sh" >&2
  exit 1
fi
if [ ! -d "$tools/node_modules/ajv" ] || [ ! -d "$tools/node_modules/ajv-formats" ]; then
  if [ -x contrib/tests-deps.sh ]; then
    bash contrib/tests-deps.sh >&2 || true
  fi
  if [ ! -d "$tools/node_modules/ajv" ] || [ ! -d "$tools/node_modules/ajv-formats" ]; then
    echo "schema.sh: ajv is not installed in $tools; run contrib/tests-deps.sh" \
         "(npm install --prefix $tools)" >&2
    exit 1
  fi
fi

shipped=()
for f in runbooks/*.json; do
  [ "$(basename "$f")" = schema.json ] || shipped+=("$f")
done
[ ${#shipped[@]} -ge 1 ] || { echo "schema.sh: no runbooks in runbooks/" >&2; exit 1; }

# Bad fixtures that the schema must reject (a sample chosen for what a schema
# can say: unknown keys, types, ranges, patterns, required keys, inline secrets).
schema_bad=(
  bad-duration bad-platform cert-relative empty-targets inline-challenge
  inline-step-password inventory-group-without-file issuer-typo issuer-unknown
  key-bits many max-parallel-string max-parallel-zero missing-issuer
  missing-known-hosts missing-user name-bad not-object notify-days notify-url
  posix-no-key renew-fraction scep-bad-fingerprint scep-bad-url
  scep-no-fingerprint scep-no-url secret-bad-env secret-both secret-neither
  secret-unknown-key secret-empty-file ssh-not-object
  ssh-port-range step-no-type target-bad-name targets-neither
  unknown-key-no-guess unknown-ssh-key unknown-top-key waves-over-100
  win-bad-config win-no-selector win-thumbprint
  acme-typo acme-unknown-key acme-no-directory acme-http-directory
  acme-no-account-key acme-challenge-type acme-no-webroot acme-dns-no-hook
  acme-eab-inline acme-relative-webroot
)
bad=()
for n in "${schema_bad[@]}"; do
  f=tests/fixtures/runbooks/bad/$n.json
  [ -f "$f" ] || { echo "schema.sh: missing fixture $f" >&2; exit 1; }
  bad+=("$f")
done

node "$tools/schema-check.mjs" runbooks/schema.json \
  --valid "${shipped[@]}" tests/fixtures/runbooks/good/*.json \
  --invalid "${bad[@]}"

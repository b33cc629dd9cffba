#!/usr/bin/env bash
# tests-deps.sh — install the test-only tools that are not Debian packages
# (npm packages, into the repository, never globally). Idempotent: installs
# only what is missing. contrib/check.sh runs it after contrib/deps.sh.
# Add a line per tool below.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"

# npm_need DIR PACKAGE...: install PACKAGEs into DIR/node_modules unless present
npm_need() {
  local dir=$1 missing=() p
  shift
  for p in "$@"; do
    [ -d "$dir/node_modules/$p" ] || missing+=("$p")
  done
  ((${#missing[@]})) || return 0
  command -v npm >/dev/null || { echo "tests-deps: npm is missing; run contrib/deps.sh" >&2; exit 2; }
  if [ -f "$dir/package.json" ]; then
    # DIR's package.json (and lock file) pin the versions
    echo "tests-deps: npm install --prefix $dir (for ${missing[*]})"
    npm install --prefix "$dir" --no-audit --no-fund >/dev/null
  else
    echo "tests-deps: npm install --prefix $dir ${missing[*]}"
    npm install --prefix "$dir" --no-audit --no-fund "${missing[@]}" >/dev/null
  fi
}

# JSON Schema check of the runbooks (tests/e2e/schema.sh)
npm_need tests/tools ajv ajv-formats

# PowerShell syntax check of the Windows scripts (tests/e2e/powershell_parse.sh,
# tests/tools/ps-parse.mjs): tree-sitter-powershell ships a .wasm grammar
npm_need tests/tools web-tree-sitter tree-sitter-powershell
# (pinned here as well, in case tests/tools/package.json does not list them)
[ -f tests/tools/node_modules/tree-sitter-powershell/tree-sitter-powershell.wasm ] &&
	[ -d tests/tools/node_modules/web-tree-sitter ] ||
	npm install --prefix tests/tools --no-audit --no-fund --save-exact \
		web-tree-sitter@0.27.1 tree-sitter-powershell@0.26.4 >/dev/null

# The emulated Windows host (tests/windows, e2e windows_pshost and
# windows_pester): NuGet restore of Microsoft.PowerShell.SDK and Pester
# (the only step that needs the registry), then the build into
# tests/windows/bin (incremental; the tests build again, offline).
command -v dotnet >/dev/null || { echo "tests-deps: dotnet (the .NET SDK) is missing" >&2; exit 2; }
echo "tests-deps: tests/windows/build.sh (NuGet restore + build of renewd-pshost)"
bash tests/windows/build.sh >/dev/null

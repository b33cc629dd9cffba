#!/bin/sh
# contrib/examples.sh — regenerate docs/examples/: the plan of every shipped
# Windows runbook with the exact scripts it sends, against the unit tests'
# simulated Windows target (tests/unit/test_windows_examples.c writes them).
# Run it after changing a Windows script, step kind or shipped runbook, and
# commit the result; tests/e2e/examples_current.sh fails while they are stale.
#   contrib/examples.sh [BUILD_DIR]   (default: build; needs -DRENEWD_TESTS=ON)
set -eu
src=$(cd "$(dirname "$0")/.." && pwd)
build=${1:-$src/build}
cmake --build "$build" --target test_windows_examples >/dev/null
RENEWD_EXAMPLES_OUT=$src/docs/examples CK_FORK=no "$build/test_windows_examples" >/dev/null
echo "contrib/examples.sh: docs/examples/ regenerated; review and commit it (git diff docs/examples)"

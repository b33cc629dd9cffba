#!/usr/bin/env bash
# run.sh — build the libFuzzer targets (tests/fuzz/fuzz_*.c) with clang into
# BUILD_DIR and run each for SECONDS, starting from its seeds in
# tests/fuzz/corpus/<name>/ (read only: new inputs go to a temporary
# directory). Exits 1 if any target crashes, leaks, hits undefined behaviour
# or an invariant of its own; the input is kept in BUILD_DIR/artifacts/.
#   bash tests/fuzz/run.sh [BUILD_DIR [SECONDS]]   (build-fuzz, 10)
# Replay one input: BUILD_DIR/fuzz_<name> FILE
set -euo pipefail
top=$(cd "$(dirname "$0")/../.." && pwd)
cd "$top"
build=${1:-build-fuzz}
secs=${2:-10}
command -v clang >/dev/null || { echo "fuzz: clang is missing; run contrib/deps.sh" >&2; exit 2; }
CC=clang cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=Debug -DRENEWD_TESTS=OFF -DRENEWD_FUZZ=ON >/dev/null
cmake --build "$build" -j"$(nproc)" --target renewd_fuzz
mkdir -p "$build/artifacts"
work=$(mktemp -d /tmp/renewd-fuzz-run.XXXXXX)
trap 'rm -rf "$work"' EXIT
export ASAN_OPTIONS=detect_leaks=1
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
fail=0
for src in tests/fuzz/fuzz_*.c; do
  name=$(basename "$src" .c)
  name=${name#fuzz_}
  mkdir -p "$work/$name"
  if "$build/fuzz_$name" -max_total_time="$secs" -timeout=10 -error_exitcode=1 \
       -artifact_prefix="$build/artifacts/$name-" "$work/$name" "tests/fuzz/corpus/$name" \
       >"$work/$name.log" 2>&1; then
    echo "fuzz $name: $(grep -E '^Done [0-9]+ runs' "$work/$name.log" || echo done)"
  else
    tail -n 60 "$work/$name.log"
    echo "fuzz $name: FAILED (input kept in $build/artifacts/$name-*)" >&2
    fail=1
  fi
done
exit $fail

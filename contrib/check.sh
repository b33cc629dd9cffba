#!/usr/bin/env bash
# check.sh — install, build and run every test renewd has: the Check unit
# tests and the lab end-to-end tests under ASan+UBSan, a short run of each
# fuzz target (tests/fuzz), then the unit tests again under valgrind. Exits
# non-zero on any failure.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
bash contrib/deps.sh
[ -x contrib/tests-deps.sh ] && bash contrib/tests-deps.sh
jobs=$(nproc)

# the default build (RelWithDebInfo, -O2: what contrib/demo.sh and an
# operator's plain `cmake` make; the optimiser's format checks differ)
echo "== build (default: RelWithDebInfo) =="
cmake -S . -B build-rel >/dev/null
cmake --build build-rel -j"$jobs"

echo "== build (ASan+UBSan) =="
cmake -S . -B build-asan -DCMAKE_BUILD_TYPE=Debug -DRENEWD_SANITIZE=ON >/dev/null
cmake --build build-asan -j"$jobs"
export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
echo "== unit + e2e tests (ASan+UBSan) =="
log=$(mktemp /tmp/renewd-check.XXXXXX)
ctest --test-dir build-asan --output-on-failure -j"$jobs" -L unit 2>&1 | tee "$log"
ctest --test-dir build-asan --output-on-failure -L e2e 2>&1 | tee -a "$log"
# the e2e tests that keep a journal once more, on a PostgreSQL journal (a
# private server each: tests/e2e/lib/journalq.sh); 77 (cannot run) only
# counts as a skip when not root. Not here: pg_instances (PostgreSQL
# already) and the tests that keep none (transport, doctor, lab_smoke, windows_lab...).
# The Windows ones run here since one powershell.exe per job made them ~3 min
# together. docs/SCALING.md: the figures.
pg_failed= pg_start=$SECONDS
for t in renewal multi_cert host_lease serve crash_points faults_ca faults_link faults_ssh \
  faults_target serve_reload batching acme mail monitoring report_browser hostile posix_layouts \
  cli_lab windows_runbooks windows_remediate windows_web windows_scom faults_soak; do
  pg_rc=0 pg_t0=$SECONDS
  RENEWD_TEST_JOURNAL=pg RENEWD_BIN="$top/build-asan/renewd" RENEWD_PLUGINS="$top/build-asan/plugins" \
    RENEWD_SOURCE="$top" flock -o /tmp/renewd-lab.lock bash "tests/e2e/$t.sh" 2>&1 | tee -a "$log" || pg_rc=$?
  if [ "$pg_rc" != 0 ] && { [ "$pg_rc" != 77 ] || [ "$(id -u)" = 0 ]; }; then
    pg_failed="$pg_failed $t.sh($pg_rc)"
  fi
  echo "check: on PostgreSQL, $t.sh exited $pg_rc in $((SECONDS - pg_t0)) s"
done
echo "check: the PostgreSQL stage took $((SECONDS - pg_start)) s"
if [ -n "$pg_failed" ]; then
  echo "check: on PostgreSQL, tests/e2e failed:$pg_failed" >&2
  exit 1
fi
# A test that cannot run exits 77 and ctest reports it as skipped. As root
# every test can run, so a skip here means something is missing: fail.
if [ "$(id -u)" = 0 ] && grep -E '\*\*\*Skipped|Not Run' "$log"; then
  rm -f "$log"
  echo "check: the tests above were skipped; as root every test must run" >&2
  exit 1
fi
rm -f "$log"
# the Windows suites' counts (Pester, renewd-pshost, the emulated lab host)
grep -hE '^windows_(pester|pshost|lab|runbooks): [0-9]+ passed' build-asan/Testing/Temporary/LastTest.log || true
# what the tests kept (the fleet report's screenshot: tests/e2e/report_browser.sh)
arts=${RENEWD_TEST_ARTIFACTS:-build/test-artifacts}
[ -d "$arts" ] && { echo "== test artifacts ($arts) =="; ls -l "$arts"; }

echo "== fuzz targets (libFuzzer + ASan + UBSan, 10 s each) =="
bash tests/fuzz/run.sh build-fuzz 10

echo "== unit tests under valgrind =="
cmake -S . -B build-vg -DCMAKE_BUILD_TYPE=Debug >/dev/null
cmake --build build-vg -j"$jobs"
vg_fail=0
for t in build-vg/test_*; do
  [ -x "$t" ] || continue
  if ! CK_FORK=no valgrind -q --error-exitcode=99 --leak-check=full \
       --errors-for-leak-kinds=definite,indirect "$t" >/tmp/renewd-vg.$$ 2>&1; then
    cat /tmp/renewd-vg.$$; echo "valgrind: $t failed" >&2; vg_fail=1
  fi
done
rm -f /tmp/renewd-vg.$$
[ $vg_fail = 0 ] || exit 1
echo "check: all tests passed"

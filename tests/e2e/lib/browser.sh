# tests/e2e/lib/browser.sh — sourced by e2e tests (not a test itself):
# headless Chromium (Debian's `chromium`) on local files, and the kept
# artifacts of a test run.
#
# browser_ok: Chromium is installed (else the caller skips with 77).
# browser_dom FILE OUT: the DOM of file FILE after its scripts ran, into OUT.
# browser_shot FILE PNG [WIDTHxHEIGHT]: a screenshot of FILE into PNG.
# keep_artifact FILE [NAME]: copy FILE into $RENEWD_TEST_ARTIFACTS (default
#   build/test-artifacts/ of the source tree) and print "artifact: PATH (N bytes)".
# Chromium runs as root here, so without its sandbox, with a throw-away
# profile, no network (only file:// pages are opened) and a 60 s bound.

_browser_root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../../.." && pwd)

browser_ok() { command -v chromium >/dev/null 2>&1; }

_browser() {
	local prof rc=0
	prof=$(mktemp -d "${TMPDIR:-/tmp}/chromium.XXXXXX")
	timeout 60 chromium --headless --no-sandbox --disable-gpu --no-first-run \
		--user-data-dir="$prof" --proxy-server='127.0.0.1:9' --proxy-bypass-list='<-loopback>' \
		--hide-scrollbars "$@" 2>"$prof.err" || rc=$?
	((rc == 0)) || sed -n '1,20p' "$prof.err" >&2
	rm -rf "$prof" "$prof.err"
	return $rc
}

browser_dom() { _browser --virtual-time-budget=5000 --dump-dom "file://$1" >"$2"; }

browser_shot() {
	local size=${3:-1280x1400}
	_browser --window-size="${size/x/,}" --screenshot="$2" "file://$1" >/dev/null
}

keep_artifact() {
	local dir=${RENEWD_TEST_ARTIFACTS:-$_browser_root/build/test-artifacts} name=${2:-$(basename "$1")}
	mkdir -p "$dir" && cp -f "$1" "$dir/$name" || return 1
	printf 'artifact: %s (%s bytes)\n' "$dir/$name" "$(stat -c %s "$dir/$name")"
}

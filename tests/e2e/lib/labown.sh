# tests/e2e/lib/labown.sh — sourced by e2e tests (not a test itself): the
# prologue every lab test repeats, once (lib/labcommon.sh).
#
#   T=mytest; . "$HERE/lib/labown.sh"      # sets ROOT LAB RENEWD, the counters
#   lab_own DIR NETNS HOSTS                 # a lab of its own, purged at exit
#   check "what" cmd args...; finish
#
# lab_own needs root (skips with 77 otherwise), brings up a lab of HOSTS
# hosts in its own directory and netns, sources its lab.env and makes
# $WORK (kept with KEEP_WORK=1). rd LOG ARGS... runs renewd in the lab's
# netns: stdout in $WORK/LOG.out, stderr in LOG.err, the status in $rc.
# shellcheck shell=bash
# shellcheck source=tests/e2e/lib/labcommon.sh
. "$(dirname "${BASH_SOURCE[0]}")/labcommon.sh"

lab_own() { _lab_up "$@"; } # DIR NETNS HOSTS
rd() { _rd "$@"; }          # LOG ARGS...

# every file of every host's tree and of the CA depot, with its checksum
tree_sums() {
	find "$RENEWD_LAB_DIR"/hosts/*/root "$RENEWD_LAB_DIR/ca/depot" -type f -print0 |
		sort -z | xargs -0 sha256sum
}

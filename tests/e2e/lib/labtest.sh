# tests/e2e/lib/labtest.sh — sourced by the e2e tests that bring up a lab of
# their own (not a test itself): the ok/FAIL tally, the lab's set-up and
# tear-down (lib/labcommon.sh), and the helpers every such test uses.
#
# Before sourcing, set TEST (the name in the summary line), LAB_DIR_NAME
# and LAB_NETNS (this test's lab, apart from the others'); then call
# lab_begin HOSTS. Afterwards: $LAB (the lab script), $WORK (removed at the
# end unless KEEP_WORK is set), $JOURNAL, $RENEWD; the lab's lab.env is
# sourced. $DAEMON, when set, is a background process killed at the end.
# shellcheck shell=bash
HERE=$(cd "$(dirname "${BASH_SOURCE[1]}")" && pwd)
# shellcheck source=tests/e2e/lib/labcommon.sh
. "$(dirname "${BASH_SOURCE[0]}")/labcommon.sh"
export RENEWD_LAB_DIR=$LAB_DIR_NAME RENEWD_LAB_NETNS=$LAB_NETNS

# lab_begin HOSTS: skip (77) unless root with sqlite3 and jq; a fresh lab of
# HOSTS hosts; the work directory and the journal.
lab_begin() {
	local tool
	for tool in sqlite3 jq; do
		command -v $tool >/dev/null || { echo "$TEST: SKIP: needs $tool" >&2; exit 77; }
	done
	_lab_up "$LAB_DIR_NAME" "$LAB_NETNS" "$1"
	JOURNAL=$WORK/journal.db
}

rd() { _rd "$@" --journal "$JOURNAL"; } # LOG ARGS...: renewd in the lab's netns, on $JOURNAL
on() { "$LAB" ssh "$1" "${@:2}"; }
# certificates the lab CA issued so far
issued() { wc -l <"$RENEWD_LAB_DIR/ca/depot/index.txt"; }
wait_for() { # wait_for SECONDS CMD...: until CMD succeeds
	local until=$((SECONDS + $1))
	shift
	while ((SECONDS < until)); do "$@" && return 0; sleep 0.2; done
	return 1
}

# tests/e2e/lib/journalq.sh — an e2e test's journal on either backend, and
# the queries a test makes of it (sourced, not a test itself).
#
# RENEWD_TEST_JOURNAL=pg puts the journal on a private PostgreSQL server
# (lib/pg.sh) this script starts and stops; otherwise (sqlite, the default)
# it is the file $JOURNAL the test chose.
#   journal_setup: call once $JOURNAL is set (the SQLite file): on
#       PostgreSQL it starts the server (stopped at the test's exit, before
#       the test's own EXIT trap runs) and sets JOURNAL to its URI.
#   journal_new NAME: prints the target of one more journal: $WORK/NAME.db,
#       or the URI of a new database NAME on the same server.
#   jsql SQL / jsql_at TARGET SQL: the rows of a query on $JOURNAL / on
#       TARGET, one a line, columns separated by '|' (sqlite3's default and
#       psql -A -t: the same text on both). Write SQL both engines speak;
#       join rows in the shell (paste -sd,), not with group_concat.
#   jdump / jdump_at TARGET: the whole journal as SQL text (sqlite3 .dump,
#       pg_dump), for the tests that look for secrets in it.
#   jnewest HOST [COLUMN]: a column (state by default) of HOST's newest job
#       in $JOURNAL: state, error, id; nothing when HOST has none.
#   journal_made: whether renewd has created the journal yet (the SQLite
#       file is not empty; on PostgreSQL its jobs table exists).
#   jfield COLUMN PATH: the SQL of a member of a JSON text column as text,
#       PATH dotted (previous.what): json_extract or PostgreSQL's #>>.
#   JOURNAL_BACKEND: sqlite or pg, for the test's messages.
# shellcheck shell=bash
# shellcheck source=tests/e2e/lib/pg.sh
. "$(dirname "${BASH_SOURCE[0]}")/pg.sh"
JOURNAL_BACKEND=${RENEWD_TEST_JOURNAL:-sqlite}
JOURNAL_PGDIR=

_journal_exit() {
	local rc=$? prev=$_journal_prev_trap
	[[ -n $JOURNAL_PGDIR ]] && pg_stop "$JOURNAL_PGDIR"
	JOURNAL_PGDIR=
	set +e # the test's trap sees the test's status as $?
	(exit "$rc")
	eval "$prev"
}

journal_setup() {
	: "${JOURNAL:?set JOURNAL (the SQLite file) before journal_setup}"
	case $JOURNAL_BACKEND in
	sqlite) return 0 ;;
	pg) ;;
	*) echo "journalq: RENEWD_TEST_JOURNAL=$JOURNAL_BACKEND: sqlite or pg" >&2; exit 2 ;;
	esac
	# the test's own EXIT trap runs after the server's stop
	eval "set -- $(trap -p EXIT)"
	_journal_prev_trap=${3:-}
	trap _journal_exit EXIT
	JOURNAL_PGDIR=$(mktemp -d /tmp/journalq-pg.XXXXXX)
	pg_start "$JOURNAL_PGDIR" >"$JOURNAL_PGDIR.log" 2>&1 ||
		{ echo "journalq: cannot start PostgreSQL:" >&2; cat "$JOURNAL_PGDIR.log" >&2; rm -f "$JOURNAL_PGDIR.log"; exit 1; }
	rm -f "$JOURNAL_PGDIR.log"
	JOURNAL=$RD_PG_URI
	echo "journal on PostgreSQL ($JOURNAL)"
}

journal_new() {
	if [[ -z $JOURNAL_PGDIR ]]; then
		printf '%s\n' "$WORK/$1.db"
		return
	fi
	_pg_as "$(_pg_bin)/createdb" -h "$JOURNAL_PGDIR/sock" -U postgres "$1" || return 1
	printf 'postgresql:///%s?host=%s/sock&user=postgres\n' "$1" "$JOURNAL_PGDIR"
}

jsql_at() {
	case $1 in
	postgresql://* | postgres://*)
		"$(_pg_bin)/psql" -X -q -A -t -v ON_ERROR_STOP=1 -d "$1" -c "$2" ;;
	*) sqlite3 "$1" "$2" ;;
	esac
}
jsql() { jsql_at "$JOURNAL" "$1"; }

jdump_at() {
	case $1 in
	postgresql://* | postgres://*) "$(_pg_bin)/pg_dump" -d "$1" ;;
	*) sqlite3 "$1" .dump ;;
	esac
}
jdump() { jdump_at "$JOURNAL"; }

jnewest() {
	jsql "select ${2:-state} from jobs where host = '$1' order by id desc limit 1"
}

journal_made() {
	case $JOURNAL in
	postgresql://* | postgres://*) [[ $(jsql "select to_regclass('jobs') is not null" 2>/dev/null) == t ]] ;;
	*) [[ -s $JOURNAL ]] ;;
	esac
}

jfield() {
	if [[ $JOURNAL_BACKEND == pg ]]; then
		printf "(%s::json #>> '{%s}')" "$1" "${2//./,}"
	else
		printf "json_extract(%s, '\$.%s')" "$1" "$2"
	fi
}

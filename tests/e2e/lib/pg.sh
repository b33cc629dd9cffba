# tests/e2e/lib/pg.sh — a private PostgreSQL server for tests: sourced by
# e2e scripts, and run as `bash pg.sh start DIR` / `bash pg.sh stop DIR` by
# the journal unit tests (tests/unit/test_journal_fixture.h).
#
# pg_start DIR: initdb into DIR/data and start the server on a unix socket
# in DIR/sock only (no TCP), as the calling user -- or, as root (PostgreSQL
# refuses to run as root), as `nobody`, who then owns DIR. Trust
# authentication: the socket directory is the only way in and only its
# owner (and root) can enter it. Creates the database "renewd" and sets
# RD_PG_URI to its postgresql:// URI (also written to DIR/uri). fsync is off:
# the tests kill renewd, never the server. Returns non-zero, with the
# server's log on stderr, when it cannot start.
# pg_stop DIR: stop that server (immediate) and remove DIR.
_pg_bin() {
	local d
	d=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)
	[[ -n $d && -x $d/initdb ]] || { echo "pg.sh: no PostgreSQL server (apt-get install postgresql)" >&2; return 1; }
	echo "$d"
}

_pg_as() {
	if [[ $(id -u) == 0 ]]; then runuser -u nobody -- "$@"; else "$@"; fi
}

pg_start() {
	local dir=$1 bin
	bin=$(_pg_bin) || return 1
	mkdir -p "$dir/sock" || return 1
	chmod 0700 "$dir" "$dir/sock"
	if [[ $(id -u) == 0 ]]; then chown -R nobody:nogroup "$dir" || return 1; fi
	_pg_as "$bin/initdb" -D "$dir/data" -U postgres --auth=trust --no-sync \
		--no-locale -E UTF8 >"$dir/initdb.log" 2>&1 || { cat "$dir/initdb.log" >&2; return 1; }
	_pg_as "$bin/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 30 \
		-o "-k $dir/sock -c listen_addresses= -c fsync=off -c max_connections=60" \
		start >/dev/null || { cat "$dir/server.log" >&2; return 1; }
	_pg_as "$bin/createdb" -h "$dir/sock" -U postgres renewd || return 1
	RD_PG_URI="postgresql:///renewd?host=$dir/sock&user=postgres"
	echo "$RD_PG_URI" >"$dir/uri"
}

pg_stop() {
	local dir=$1 bin
	[[ -d $dir/data ]] || { rm -rf "$dir"; return 0; }
	bin=$(_pg_bin) || return 1
	_pg_as "$bin/pg_ctl" -D "$dir/data" -m immediate -w stop >/dev/null 2>&1
	rm -rf "$dir"
}

# psql on that server: pg_sql DIR SQL prints the rows unaligned.
pg_sql() {
	local dir=$1 bin
	bin=$(_pg_bin) || return 1
	"$bin/psql" -X -q -A -t -v ON_ERROR_STOP=1 -h "$dir/sock" -U postgres -d renewd -c "$2"
}

if [[ ${BASH_SOURCE[0]} == "$0" ]]; then
	case ${1:-} in
	start) pg_start "$2" ;;
	stop) pg_stop "$2" ;;
	*) echo "usage: pg.sh start|stop DIR" >&2; exit 2 ;;
	esac
fi

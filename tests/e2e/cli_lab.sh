#!/usr/bin/env bash
# tests/e2e/cli_lab.sh — what an operator types against a one-host lab, and
# what it leaves behind:
#
#  1. `renewd inventory --journal J` records what it found in J (the
#     snapshot `renewd report`, status and serve's fleet read), as
#     $RENEWD_JOURNAL does; without either it opens no journal.
#  2. A runbook whose path has spaces and non-ASCII letters, with an
#     inventory file beside it named the same way, works (relative paths
#     resolve from the runbook's folder), and a journal path likewise.
# RENEWD_TEST_JOURNAL=pg: the journals of 1. on PostgreSQL (lib/journalq.sh);
# 2.'s journal stays an SQLite file: its name is what it tests.
# Needs root. Prints "cli_lab: N passed, M failed".
set -euo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
T=cli_lab
# shellcheck source=tests/e2e/lib/labown.sh
. "$HERE/lib/labown.sh"
command -v sqlite3 >/dev/null || { echo "$T: SKIP: needs sqlite3"; exit 77; }
lab_own "${CLI_LAB_DIR:-/var/lib/renewd-lab-cli}" "${CLI_LAB_NETNS:-renewd-lab-cli}" 1

sed "s|/var/lib/renewd-lab/|$RENEWD_LAB_DIR/|g" "$ROOT/runbooks/lab-posix-scep.json" >"$WORK/lab.json"
show() { sed 's/^/    /' "$WORK/$1.out" "$WORK/$1.err"; }
snapshots() { jsql_at "$1" "select count(*) from inventory where host = 'h0001'"; }
live_sha1() {
	openssl x509 -in "$RENEWD_LAB_DIR/hosts/h0001/root/tls/server.crt" -noout -fingerprint -sha1 |
		cut -d= -f2 | tr -d : | tr 'A-F' 'a-f'
}
snap_sha1() { jsql_at "$1" "select lower($(jfield facts sha1)) from inventory order by id desc limit 1"; }

# 1. the journal
JOURNAL=$WORK/j1.db
# shellcheck source=lib/journalq.sh
. "$HERE/lib/journalq.sh"
journal_setup
J1=$JOURNAL
J2=$(journal_new j2) || { not_ok "a second journal"; finish; exit 1; }
unset RENEWD_JOURNAL
DEFAULT_JOURNAL=/var/lib/renewd/journal.db
default_state() { stat -c %Y.%s "$DEFAULT_JOURNAL" 2>/dev/null || echo absent; }
before=$(default_state)
rd plain inventory "$WORK/lab.json"
check "inventory without a journal: exit 0 (got $rc)" test "$rc" = 0
check "  lists h0001" grep -q '^h0001 ' "$WORK/plain.out"
check "  and leaves the default journal alone ($before)" test "$(default_state)" = "$before"
((rc == 0)) || show plain

rd given inventory "$WORK/lab.json" --journal "$J1"
check "inventory --journal J: exit 0 (got $rc)" test "$rc" = 0
check "  J holds h0001's snapshot" test "$(snapshots "$J1" 2>/dev/null)" = 1
check "  of the live certificate" test "$(snap_sha1 "$J1" 2>/dev/null)" = "$(live_sha1)"
((rc == 0)) || show given
rd report report --html - --journal "$J1"
check "  renewd report shows the inventoried host" grep -q 'h0001' "$WORK/report.out"

RENEWD_JOURNAL=$J2 rd env inventory "$WORK/lab.json"
check "inventory with \$RENEWD_JOURNAL: the snapshot is there" \
	test "$(snapshots "$J2" 2>/dev/null)" = 1

# 2. spaces and non-ASCII letters in the paths
ODD="$WORK/ops runbooks/prüfung ü"
mkdir -p "$ODD"
cp "$RENEWD_LAB_DIR/inventory.json" "$ODD/lab inventory.json"
jq '.targets.inventory = "lab inventory.json"' "$WORK/lab.json" >"$ODD/lab runbook é.json"
rd odd-validate validate "$ODD/lab runbook é.json"
check "validate, a path with spaces and accents: exit 0 (got $rc)" test "$rc" = 0
check "  names the file as given" grep -qF "$ODD/lab runbook é.json: ok" "$WORK/odd-validate.out"
rd odd-inv inventory "$ODD/lab runbook é.json" --journal "$ODD/jour nal ß.db"
check "inventory through it, the journal named the same way: exit 0 (got $rc)" test "$rc" = 0
check "  the snapshot is there" test "$(snapshots "$ODD/jour nal ß.db" 2>/dev/null)" = 1
((rc == 0)) || show odd-inv

finish

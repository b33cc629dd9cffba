#!/usr/bin/env bash
# contrib/soak/soak.sh — random SIGKILLs during fleet renewals on the lab.
#
# usage: soak.sh [--rounds R] [--hosts N] [--kills K] [--max-delay S]
#        (defaults: 10 rounds, 20 hosts, up to 15 kills a round, kills
#        within 4 s of each start)
#
# A lab of N hosts (contrib/lab/lab, its own directory and netns) renewed by
# the lab runbook, R rounds. Each round makes every host's certificate due,
# then starts `renewd run` and SIGKILLs it at a random instant (0 to S
# seconds after it started), up to K times (a random number of kills, 1..K),
# then lets a run finish, and runs again until a run ends with nothing left
# to do. After each round:
#   - every host's newest job is DONE and no job is left unfinished;
#   - the CA issued at least N certificates and at most N plus the resends
#     of a lost reply that the journal names (`renewd status --json`: a
#     job's notice, "possible orphan certificate at the CA", with how many
#     times the identical request went out again) -- read from the journal
#     because the run that resent may be killed before it prints its report;
#   - every host serves its renewed certificate, valid and matching its key,
#     app.conf pins it, and no staged file is left.
# Prints one line a round and a summary: rounds, kills, renewals finished,
# resends, problems; exits 1 when any invariant failed. Needs root.
# SOAK_LAB_DIR / SOAK_LAB_NETNS choose the lab; RENEWD_BIN the binary.
set -uo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
LAB=$ROOT/contrib/lab/lab
RENEWD=${RENEWD_BIN:-$ROOT/build/renewd}
export RENEWD_PLUGINS=${RENEWD_PLUGINS:-$(dirname "$RENEWD")/plugins}
export RENEWD_LAB_DIR=${SOAK_LAB_DIR:-/var/lib/renewd-lab-soak}
export RENEWD_LAB_NETNS=${SOAK_LAB_NETNS:-renewd-lab-soak}
ROUNDS=10 HOSTS=20 KILLS=15 MAXDELAY=4

usage() { sed -n '3,6p' "$0" | sed 's/^# \{0,1\}//'; exit "${1:-2}"; }
while (($#)); do
	case $1 in
	--rounds) ROUNDS=${2:-}; shift 2 ;;
	--hosts) HOSTS=${2:-}; shift 2 ;;
	--kills) KILLS=${2:-}; shift 2 ;;
	--max-delay) MAXDELAY=${2:-}; shift 2 ;;
	-h | --help) usage 0 ;;
	*) echo "soak: unknown option '$1'" >&2; usage ;;
	esac
done
for v in "$ROUNDS" "$HOSTS" "$KILLS" "$MAXDELAY"; do
	[[ $v =~ ^[1-9][0-9]*$ ]] || { echo "soak: options take a positive whole number, got '$v'" >&2; exit 2; }
done
[[ $(id -u) == 0 ]] || { echo "soak: SKIP: needs root (network namespaces, sshd)"; exit 77; }
command -v jq >/dev/null && command -v sqlite3 >/dev/null ||
	{ echo "soak: SKIP: needs jq and sqlite3 (contrib/deps.sh installs them)"; exit 77; }
[[ -x $RENEWD ]] || { echo "soak: $RENEWD not built (set RENEWD_BIN)" >&2; exit 2; }

WORK=$(mktemp -d /tmp/soak.XXXXXX)
trap '"$LAB" down --purge >/dev/null 2>&1 || true; [[ -n ${KEEP_WORK:-} ]] && echo "soak: kept $WORK" >&2 || rm -rf "$WORK"' EXIT
trap 'exit 130' INT TERM
"$LAB" down --purge >/dev/null 2>&1 || true
if ! "$LAB" up --hosts "$HOSTS" >"$WORK/up.log" 2>&1; then
	echo "soak: lab up failed:"; tail -20 "$WORK/up.log"; exit 1
fi
# shellcheck disable=SC1091
. "$RENEWD_LAB_DIR/lab.env"
# shellcheck source=../../tests/e2e/lib/renewcheck.sh
. "$ROOT/tests/e2e/lib/renewcheck.sh"
JOURNAL=$WORK/journal.db
journal_setup # RENEWD_TEST_JOURNAL=pg: on a private PostgreSQL (tests/e2e/lib/journalq.sh)
sed "s|/var/lib/renewd-lab/|$RENEWD_LAB_DIR/|g" "$ROOT/runbooks/lab-posix-scep.json" >"$WORK/lab.json"
mapfile -t NAMES < <(jq -r '.hosts | keys[]' "$LAB_INVENTORY")

# start NAME: renewd run in the lab netns, in the background; its pid (the
# renewd process itself: sh execs it) in $WORK/NAME.pid
start() {
	rm -f "$WORK/$1.pid"
	"$LAB" exec -- sh -c 'echo $$ >"$1"; shift; exec "$@"' sh "$WORK/$1.pid" \
		"$RENEWD" run "$WORK/lab.json" --journal "$JOURNAL" </dev/null >>"$WORK/$1.out" 2>>"$WORK/$1.err" &
	bgpid=$!
	for _ in $(seq 1 100); do [[ -s $WORK/$1.pid ]] && break; sleep 0.01; done
}

# jobs_max: the newest job id in the journal (0 before the first run).
jobs_max() {
	journal_made || { echo 0; return; }
	"$RENEWD" status --all --json --journal "$JOURNAL" | jq '[.jobs[].id] | max // 0'
}
# resends_since ID: how many times the jobs after ID resent a request whose
# reply was lost (their notices in `renewd status`).
resends_since() {
	"$RENEWD" status --all --json --journal "$JOURNAL" |
		jq --argjson id "$1" '[.jobs[] | select(.id > $id and .notice) | .notice.resent] | add // 0'
}

t0=$SECONDS kills=0 resends=0 problems=0 renewed=0
for ((r = 1; r <= ROUNDS; r++)); do
	for h in "${NAMES[@]}"; do "$LAB" cert "$h" --due >/dev/null & done
	wait
	issued0=$(rc_issued)
	job0=$(jobs_max)
	: >"$WORK/round.out"; : >"$WORK/round.err"
	nk=$((RANDOM % KILLS + 1)) k=0
	while ((k < nk)); do
		start round
		sleep "$((RANDOM % (MAXDELAY * 1000) / 1000)).$(printf '%03d' $((RANDOM % 1000)))"
		if kill -0 "$(cat "$WORK/round.pid" 2>/dev/null)" 2>/dev/null; then
			kill -KILL "$(cat "$WORK/round.pid")" 2>/dev/null && k=$((k + 1))
			wait "$bgpid" 2>/dev/null
		else
			wait "$bgpid" 2>/dev/null
			break # the run ended before its kill: the round's renewals are done
		fi
	done
	kills=$((kills + k))
	# let runs finish until one finds nothing to do (exit 0); a run ends 1
	# when a host is still BUSY or backing off, which the next run resolves
	for _ in 1 2 3 4 5; do
		start final; wait "$bgpid"; rc=$?
		((rc == 0)) && break
	done
	cat "$WORK/final.out" >>"$WORK/round.out"; cat "$WORK/final.err" >>"$WORK/round.err"
	: >"$WORK/final.out"; : >"$WORK/final.err"
	n=$(($(rc_issued) - issued0))
	rs=$(resends_since "$job0")
	out=$( {
		((rc == 0)) || echo "the last run still exits $rc"
		((n >= HOSTS && n <= HOSTS + rs)) || echo "the CA issued $n certificates for $HOSTS renewals and $rs resends the journal names"
		for h in "${NAMES[@]}"; do
			rc_jobs_ok "$JOURNAL" "$h"; rc_host_ok "$h"; rc_pins_ok "$h"
		done
	} )
	resends=$((resends + rs))
	if [[ -z $out ]]; then
		renewed=$((renewed + HOSTS))
		printf 'soak: round %d: %d kills; %d renewed, %d certificates (%d resends in the journal); all hosts ok\n' "$r" "$k" "$HOSTS" "$n" "$rs"
	else
		problems=$((problems + $(wc -l <<<"$out")))
		printf 'soak: round %d: %d kills; PROBLEMS:\n' "$r" "$k"; sed 's/^/  /' <<<"$out"
		tail -n 5 "$WORK/round.out" "$WORK/round.err" | sed 's/^/  | /'
	fi
	cat "$WORK/round.out" >>"$WORK/all.out"
done
printf 'soak: %d rounds x %d hosts, %d kills, %d renewals finished, %d resends in the journal, %d problems, %d s\n' \
	"$ROUNDS" "$HOSTS" "$kills" "$renewed" "$resends" "$problems" "$((SECONDS - t0))"
((problems == 0))

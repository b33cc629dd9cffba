#!/usr/bin/env bash
# executions.sh — how many remote executions (SSH channel, shell, and sudo
# where the runbook allows it) and round trips renewd makes per host for a
# plan of due hosts, a renewal, and a plan of the same hosts once renewed
# (not due: the inventory's read without sudo) of the shipped lab runbook,
# counted from
# RENEWD_TRACE_REMOTE (one JSON line per remote script, with the execution
# that carried it, "exec", and its round trip, "trip": a session shell
# carries all of a job's round trips). Prints the per-host counts and the
# round trips of the first host, in order (the scripts of one batch joined
# by "+", each line prefixed by its execution's number).
#
# usage: contrib/bench/executions.sh [--hosts N] [--bin PATH/TO/renewd]
# Needs root (the lab does). Uses its own lab (RENEWD_LAB_DIR / RENEWD_LAB_NETNS).
set -euo pipefail
top=$(cd "$(dirname "$0")/../.." && pwd)
n=2 bin=$top/build/renewd
while (($#)); do
	case $1 in
	--hosts) n=$2; shift 2 ;;
	--bin) bin=$2; shift 2 ;;
	*) echo "usage: $0 [--hosts N] [--bin renewd]" >&2; exit 2 ;;
	esac
done
export RENEWD_LAB_DIR=${RENEWD_LAB_DIR:-/var/lib/renewd-lab-execs}
export RENEWD_LAB_NETNS=${RENEWD_LAB_NETNS:-renewd-lab-execs}
export RENEWD_PLUGINS=${RENEWD_PLUGINS:-$(dirname "$bin")/plugins}
lab=$top/contrib/lab/lab
[ -x "$bin" ] || { echo "executions: no renewd at $bin (--bin)" >&2; exit 2; }
command -v jq >/dev/null || { echo "executions: needs jq" >&2; exit 2; }
trap '"$lab" down --purge >/dev/null 2>&1; rm -rf "$work"' EXIT
work=$(mktemp -d)
"$lab" down --purge >/dev/null 2>&1 || true
"$lab" up --hosts "$n" --tls "$n" >"$work/up.log" 2>&1 || { cat "$work/up.log" >&2; exit 1; }
# shellcheck disable=SC1091
. "$RENEWD_LAB_DIR/lab.env"
sed "s|/var/lib/renewd-lab/|$RENEWD_LAB_DIR/|g" "$top/runbooks/lab-posix-scep.json" >"$work/rb.json"

# Processes started on the first host (execve), when strace is there.
first_pid=$(cat "$RENEWD_LAB_DIR"/hosts/h0001/sshd.pid)

count() { # count LABEL VERB: one renewd run, its trace summarised
	local label=$1 verb=$2 rc=0 spid=
	: >"$work/$label.jsonl"
	if command -v strace >/dev/null; then
		strace -f -qq -e trace=execve -o "$work/$label.strace" -p "$first_pid" 2>/dev/null &
		spid=$!
		sleep 0.5
	fi
	RENEWD_TRACE_REMOTE=$work/$label.jsonl "$lab" exec -- "$bin" "$verb" "$work/rb.json" \
		--journal "$work/journal.db" >"$work/$label.out" 2>&1 || rc=$?
	sleep 0.5
	if [ -n "$spid" ]; then
		kill "$spid" 2>/dev/null
		wait "$spid" 2>/dev/null || true
	fi
	if [ -n "$spid" ]; then
		printf '%s: h0001 started %d processes; the most frequent:' "$label" "$(grep -c 'execve(' "$work/$label.strace")"
		sed -n 's/.*execve("\([^"]*\)".*/\1/p' "$work/$label.strace" | sed 's|.*/||' | sort | uniq -c | sort -rn |
			head -n 8 | awk '{ printf " %s %d,", $2, $1 } END { print "" }'
	fi
	local scripts execs trips first
	scripts=$(wc -l <"$work/$label.jsonl")
	# the scripts of one batch share their round trip's number, the round
	# trips of one session shell their execution's
	execs=$(jq -r '.exec' "$work/$label.jsonl" | sort -u | wc -l)
	trips=$(jq -r '.trip' "$work/$label.jsonl" | sort -u | wc -l)
	first=$(jq -r '.host' "$work/$label.jsonl" | sort | head -n 1)
	printf '%s: exit %d, %d remote executions, %d round trips (%d scripts) for %d hosts: %s executions, %s round trips per host\n' \
		"$label" "$rc" "$execs" "$trips" "$scripts" "$n" "$(echo "scale=1; $execs / $n" | bc)" \
		"$(echo "scale=1; $trips / $n" | bc)"
	jq -r --arg h "$first" 'select(.host == $h) | [.trip, .exec, .script] | @tsv' "$work/$label.jsonl" |
		awk -F'\t' '$1 != last { if (line) print line; line = "  exec " $2 ": " $3; last = $1; next } { line = line " + " $3 } END { print line }'
}
count plan plan
count run run
count plan-not-due plan

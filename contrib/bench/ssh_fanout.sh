#!/usr/bin/env bash
# ssh_fanout.sh — how fast renewd's SSH layer fans one command out to a fleet:
# hosts/s, orchestrator CPU per host and memory, measured with /usr/bin/time -v
# around `renewd debug exec` against the lab (contrib/lab/lab), in a lab of
# its own (RENEWD_LAB_DIR / RENEWD_LAB_NETNS, defaults below).
#
# usage: contrib/bench/ssh_fanout.sh [--hosts N] [--runs R] [--cmd 'COMMAND']
#                                    [--bin PATH/TO/renewd] [--max-handshakes K] [--keep]
# Build renewd without sanitizers for this (e.g. cmake -B build-rel
# -DCMAKE_BUILD_TYPE=RelWithDebInfo). Needs root (the lab does).
set -euo pipefail
top=$(cd "$(dirname "$0")/../.." && pwd)
n=200 runs=3 cmd=true bin=$top/build-rel/renewd keep=0 mh=16
while (($#)); do
	case $1 in
	--hosts) n=$2; shift 2 ;;
	--runs) runs=$2; shift 2 ;;
	--cmd) cmd=$2; shift 2 ;;
	--bin) bin=$2; shift 2 ;;
	--max-handshakes) mh=$2; shift 2 ;;
	--keep) keep=1; shift ;;
	*) echo "usage: $0 [--hosts N] [--runs R] [--cmd CMD] [--bin renewd] [--max-handshakes K] [--keep]" >&2; exit 2 ;;
	esac
done
export RENEWD_LAB_DIR=${RENEWD_LAB_DIR:-/var/lib/renewd-lab-bench}
export RENEWD_LAB_NETNS=${RENEWD_LAB_NETNS:-renewd-lab-bench}
lab=$top/contrib/lab/lab
[ -x "$bin" ] || { echo "ssh_fanout: no renewd at $bin (--bin)" >&2; exit 2; }
[ -x /usr/bin/time ] || { echo "ssh_fanout: /usr/bin/time is missing (apt-get install time)" >&2; exit 2; }
[ "$keep" = 1 ] || trap '"$lab" down >/dev/null 2>&1' EXIT
"$lab" up --hosts "$n" --tls 0 --no-enroll >/dev/null
# shellcheck disable=SC1091
. "$RENEWD_LAB_DIR/lab.env"
out=$(mktemp -d)
echo "ssh_fanout: $n hosts, command '$cmd', max handshakes $mh, $(nproc) cores"
for r in $(seq 1 "$runs"); do
	"$lab" exec -- /usr/bin/time -v "$bin" debug exec --known-hosts "$LAB_KNOWN_HOSTS" \
		--identity "$LAB_KEY" --user "$LAB_USER" --inventory "$LAB_INVENTORY" \
		--max-handshakes "$mh" --stats -- "$cmd" >"$out/run.jsonl" 2>"$out/time.txt" || true
	okc=$(grep -c '"status":"ok"' "$out/run.jsonl" || true)
	wall=$(awk -F': ' '/Elapsed \(wall clock\)/ {n = split($2, a, ":"); s = 0; for (i = 1; i <= n; i++) s = s * 60 + a[i]; print s}' "$out/time.txt")
	user=$(awk -F': ' '/User time/ {print $2}' "$out/time.txt")
	sys=$(awk -F': ' '/System time/ {print $2}' "$out/time.txt")
	rss=$(awk -F': ' '/Maximum resident/ {print $2}' "$out/time.txt")
	awk -v r="$r" -v ok="$okc" -v n="$n" -v w="$wall" -v u="$user" -v s="$sys" -v rss="$rss" 'BEGIN {
		printf "run %d: %d/%d ok, %.2f s wall = %.1f hosts/s; cpu user %.2f s + sys %.2f s = %.2f ms/host; max RSS %d KB\n",
			r, ok, n, w, (w > 0 ? n / w : 0), u, s, (u + s) * 1000 / n, rss }'
	grep '^stats:' "$out/time.txt" | sed 's/^/       /'
done
rm -rf "$out"

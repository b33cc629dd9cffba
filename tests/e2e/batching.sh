#!/usr/bin/env bash
# tests/e2e/batching.sh — one round trip per host per phase, all of a job's
# in one session shell (the default), on a real 3-host lab with the shipped runbook
# (lab-posix-scep.json), counted from RENEWD_TRACE_REMOTE ("exec": the
# remote execution, an SSH channel with its sudo and shell, shared by every
# request of a session shell; "trip": the round trip, shared by the scripts
# of one batch; host/batch.c, core/phase.c, transport/ssh_shell.c):
#
#  1. `renewd plan` of due hosts: two executions per host, 3 round trips:
#     the certificate read as the login user (posix.inventory.read, no
#     sudo), then one sudo session: the key match alone
#     (posix.inventory.key), then every other probe; nothing changed.
#  2. `renewd run` renews h0001 in at most 6 executions (two when nothing
#     fails: the read, then the sudo session) and at most 14 round trips;
#     the four follow-ups' applies (key ACL, prune, two app.conf pins)
#     share one round trip.
#  2b. The renewed h0001 is not due: its plan and its inventory are one
#     execution and one round trip without sudo, the key match "not
#     checked"; with the certificate's directory closed to the login user
#     the read falls back to sudo at once, with the same result and the
#     key match checked.
#  3. A failing step in a batch fails alone, with its own error: an operator
#     hook (posix.exec) whose apply refuses runs in the same round trip as
#     the other follow-ups' applies, which succeed; the job's cause is the
#     hook's; the rollback restores the old certificate, key and app.conf
#     and the service serves the old certificate again (ROLLED_BACK).
#  4. The same on h0003 with the session shell off (RENEWD_REMOTE_SESSION=0:
#     one execution per round trip): every step's phase has the same status.
#  5. The due h0003 with a foreign key: its inventory finds the key
#     mismatch (the key read under sudo), as before the bare read.
# RENEWD_TEST_JOURNAL=pg: the journal on PostgreSQL (lib/journalq.sh).
# Needs root. Prints "batching: N passed, M failed".
set -euo pipefail

T=batching
# shellcheck source=lib/labown.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib/labown.sh"
command -v jq >/dev/null || { echo "batching: needs jq (contrib/tests-deps.sh)" >&2; exit 2; }
lab_own "${BATCHING_LAB_DIR:-/var/lib/renewd-lab-batching}" "${BATCHING_LAB_NETNS:-renewd-lab-batch}" 3
JOURNAL=$WORK/journal.db
# shellcheck source=lib/journalq.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib/journalq.sh"
journal_setup
sed "s|/var/lib/renewd-lab/|$RENEWD_LAB_DIR/|g" "$ROOT/runbooks/lab-posix-scep.json" >"$WORK/lab.json"
# an operator hook after the two app.conf pins that refuses its apply
cat >"$WORK/refuse.sh" <<'HOOK'
[ "$1" != apply ] || { echo "hook refused on $RENEWD_HOST" >&2; exit 7; }
true
HOOK
jq --arg f "$WORK/refuse.sh" \
	'.steps |= (map(select(.name != "reload TLS server" and .name != "TLS check")) +
		[{type: "posix.exec", name: "refusing hook", params: {file: $f}}] +
		map(select(.name == "reload TLS server" or .name == "TLS check")))' \
	"$WORK/lab.json" >"$WORK/refuse.json"
check "test runbooks validate" "$RENEWD" validate "$WORK/lab.json" "$WORK/refuse.json"
check "the refusing hook comes after the app.conf pins, before the reload" \
	test "$(jq -r '[.steps[].name] | join(",")' "$WORK/refuse.json")" = \
	"key ACL,prune backups,app.conf sha1,app.conf serial,refusing hook,reload TLS server,TLS check"

unset RENEWD_REMOTE_SESSION # the session shell as by default (on), but in 4.
traced() { # traced NAME ARGS...: rd (lib/labown.sh) with the remote trace in NAME.trace
	local name=$1; shift
	RENEWD_TRACE_REMOTE=$WORK/$name.trace rd "$name" "$@" --journal "$JOURNAL"
}
execs() { # execs TRACE HOST [FIELD]: the remote executions (or round trips) HOST got
	jq -r --arg h "$2" --arg f "${3:-exec}" 'select(.host == $h) | .[$f]' "$1" | sort -u | wc -l
}
on() { "$LAB" ssh "$1" "${@:2}"; }
sha256_of() { on "$1" 'cat /srv/renewd-lab/tls/server.crt' | openssl x509 -noout -fingerprint -sha256 | cut -d= -f2; }
# step_field JSON STEP PHASE FIELD: from the first job of a --json report
step_field() {
	jq -r --arg s "$2" --arg p "$3" --arg f "$4" \
		'.jobs[0].steps[] | select(.name == $s) | .phases[$p][$f] // "(none)"' "$1"
}

# ------------------------------------------------------------- 1. plan
tree_sums >"$WORK/before.sums"
traced plan plan "$WORK/lab.json"
check "plan exits 10, got $rc" test "$rc" = 10
tree_sums >"$WORK/after.sums"
check "plan changed no file" cmp -s "$WORK/before.sums" "$WORK/after.sums"
for h in h0001 h0002 h0003; do
	n=$(execs "$WORK/plan.trace" "$h") t=$(execs "$WORK/plan.trace" "$h" trip)
	check "plan: $h in $n remote execution(s) (2), $t round trips (3)" test "$n:$t" = 2:3
	check "plan: $h read without sudo, then the key match and the probes under sudo" test \
		"$(jq -r --arg h "$h" 'select(.host == $h) | "\(.script)=\(.sudo)"' "$WORK/plan.trace" | head -n 2 | paste -sd ' ')" = \
		"posix.inventory.read=false posix.inventory.key=true"
done
check "plan: no mutating script ran" bash -c "! jq -r .script '$WORK/plan.trace' | grep -Eq '\.(set|apply|replace|backup|run)$'"

# ------------------------------------------------------------- 2. run
old1=$(sha256_of h0001)
traced run run "$WORK/lab.json" --host h0001
check "run renews h0001 (exit 10), got $rc" test "$rc" = 10
n=$(execs "$WORK/run.trace" h0001) t=$(execs "$WORK/run.trace" h0001 trip)
check "run: h0001 renewed in $n remote executions (at most 6), $t round trips (at most 14)" \
	test "$n" -le 6 -a "$t" -le 14
check "run: h0001 has a new certificate" test "$(sha256_of h0001)" != "$old1"
applies=$(jq -r 'select(.script | test("key_acl.set|prune.apply|config_thumbprint.replace")) | .trip' \
	"$WORK/run.trace" | sort -u | wc -l)
napplies=$(jq -r 'select(.script | test("key_acl.set|prune.apply|config_thumbprint.replace")) | .script' \
	"$WORK/run.trace" | wc -l)
check "run: the 4 follow-ups' applies ($napplies scripts) in $applies round trip" \
	test "$applies:$napplies" = "1:4"

# ------------------------------------------------------------- 2b. not due: the bare read
sudo_scripts() { jq -r '"\(.script)=\(.sudo)"' "$1" | paste -sd ' '; }
traced plan1 plan "$WORK/lab.json" --host h0001
check "plan of the renewed h0001 exits 0 (not due), got $rc" test "$rc" = 0
n=$(execs "$WORK/plan1.trace" h0001) t=$(execs "$WORK/plan1.trace" h0001 trip)
check "not due: h0001's plan in $n execution(s), $t round trip(s) (1, 1)" test "$n:$t" = 1:1
check "not due: one script, without sudo ($(sudo_scripts "$WORK/plan1.trace"))" \
	test "$(sudo_scripts "$WORK/plan1.trace")" = "posix.inventory.read=false"
traced inv0 inventory "$WORK/lab.json" --host h0001
check "not due: inventory exits 0, got $rc" test "$rc" = 0
check "not due: inventory without sudo ($(sudo_scripts "$WORK/inv0.trace"))" \
	test "$(sudo_scripts "$WORK/inv0.trace")" = "posix.inventory.read=false"
check "not due: inventory's KEY column says '-' (not checked)" \
	test "$(awk '$1 == "h0001" {print $(NF - 1)}' "$WORK/inv0.out")" = -
traced inv1 inventory "$WORK/lab.json" --host h0001 --json
check "not due: inventory --json: key_match null, key_checked false, key_exists true" \
	test "$(jq -c '[.. | objects | select(has("key_checked")) | [.key_match, .key_checked, .key_exists]] | unique' \
		"$WORK/inv1.out")" = '[[null,false,true]]'
traced invk inventory "$WORK/lab.json" --host h0001 --keys
check "inventory --keys: the key match under sudo at once ($(sudo_scripts "$WORK/invk.trace"))" \
	test "$(sudo_scripts "$WORK/invk.trace")" = "posix.inventory=true"
check "inventory --keys: KEY ok" test "$(awk '$1 == "h0001" {print $(NF - 1)}' "$WORK/invk.out")" = ok
# the certificate's directory closed to the login user: sudo at once, same answer
tls=$RENEWD_LAB_DIR/hosts/h0001/root/tls # /srv/renewd-lab/tls on h0001
mode=$(stat -c %a "$tls")
chmod 0700 "$tls"
traced inv2 inventory "$WORK/lab.json" --host h0001
chmod "$mode" "$tls"
check "closed directory: inventory exits 0 as before, got $rc" test "$rc" = 0
check "closed directory: the read, then the whole posix.inventory under sudo ($(sudo_scripts "$WORK/inv2.trace"))" \
	test "$(sudo_scripts "$WORK/inv2.trace")" = "posix.inventory.read=false posix.inventory=true"
check "closed directory: the same line but the key match, checked (ok)" \
	test "$(awk '$1 == "h0001" {k = $(NF - 1); $(NF - 1) = ""; print k, $0}' "$WORK/inv2.out")" = \
	"ok $(awk '$1 == "h0001" {$(NF - 1) = ""; print}' "$WORK/inv0.out")"

# ------------------------------------------------------------- 3. a failing step in a batch
old2=$(sha256_of h0002)
conf2=$(on h0002 'cat /srv/renewd-lab/etc/app.conf')
traced refuse run "$WORK/refuse.json" --host h0002 --json
check "the refusing hook's run exits 1 (rolled back), got $rc" test "$rc" = 1
check "the job is ROLLED_BACK" test "$(jq -r '.jobs[0].state' "$WORK/refuse.out")" = ROLLED_BACK
check "its cause is the hook's apply" \
	test "$(jq -r '.jobs[0].cause.step + " " + .jobs[0].cause.phase' "$WORK/refuse.out")" = "refusing hook apply"
check "with the hook's own message" \
	grep -q 'hook refused on h0002' <<<"$(jq -r '.jobs[0].cause.message' "$WORK/refuse.out")"
for s in "key ACL" "prune backups" "app.conf sha1" "app.conf serial"; do
	check "'$s' applied fine in the same batch" test "$(step_field "$WORK/refuse.out" "$s" apply status)" = ok
	# posix.prune has no rollback (what it removed cannot come back, and is not needed)
	[[ $s == "prune backups" ]] ||
		check "'$s' was rolled back" test "$(step_field "$WORK/refuse.out" "$s" rollback status)" = ok
done
hook_exec=$(jq -r 'select(.script == "posix.exec" and .params.phase == "apply") | .trip' "$WORK/refuse.trace")
acl_exec=$(jq -r 'select(.script == "posix.key_acl.set") | .trip' "$WORK/refuse.trace" | head -n 1)
check "the hook's apply ran in the key ACL's round trip (${acl_exec:-none} = ${hook_exec:-none})" \
	test -n "$hook_exec" -a "$hook_exec" = "$acl_exec"
check "h0002 serves its old certificate file again" test "$(sha256_of h0002)" = "$old2"
check "h0002's app.conf is the old one" test "$(on h0002 'cat /srv/renewd-lab/etc/app.conf')" = "$conf2"
check "the install was rolled back" test "$(step_field "$WORK/refuse.out" install rollback status)" = ok
n=$(execs "$WORK/refuse.trace" h0002)
check "the failed job and its rollback in $n remote executions (at most 6)" test "$n" -le 6

# ------------------------------------------------------------- 4. the same without the session shell
statuses() { # every step's phases and their status, and the job's state and cause
	jq -r '.jobs[0] | (.steps[] | .name as $n | .phases | to_entries[] | "\($n) \(.key) \(.value.status)"),
		"state \(.state)", "cause \(.cause.step) \(.cause.phase)"' "$1"
}
RENEWD_REMOTE_SESSION=0 traced refuse0 run "$WORK/refuse.json" --host h0003 --json
check "without the session shell: exits 1 too, got $rc" test "$rc" = 1
check "without the session shell: every step's result is the same" \
	diff <(statuses "$WORK/refuse.out") <(statuses "$WORK/refuse0.out")
n=$(execs "$WORK/refuse0.trace" h0003) t=$(execs "$WORK/refuse0.trace" h0003 trip)
check "without the session shell: one execution per round trip ($n, $t)" test "$n" = "$t"

# ------------------------------------------------------------- 5. a due host's key mismatch
# h0003 is due (rolled back to its old certificate): its inventory reads
# the key under sudo and finds the mismatch, as before the bare read
key3=$RENEWD_LAB_DIR/hosts/h0003/root/tls/server.key # /srv/renewd-lab/tls/server.key on h0003
cp -p "$key3" "$WORK/h0003.key"
openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$key3" 2>/dev/null
traced inv3 inventory "$WORK/lab.json" --host h0003
cp -p "$WORK/h0003.key" "$key3"
check "due and a foreign key: the read, then the key under sudo ($(sudo_scripts "$WORK/inv3.trace"))" \
	test "$(sudo_scripts "$WORK/inv3.trace")" = "posix.inventory.read=false posix.inventory.key=true"
check "due and a foreign key: KEY WRONG and the problem 'key mismatch'" \
	bash -c "awk '\$1 == \"h0003\" && \$(NF - 1) == \"WRONG\"' '$WORK/inv3.out' | grep -q . &&
		grep -q 'problem: key mismatch' '$WORK/inv3.out'"

finish
